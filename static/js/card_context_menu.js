/* Kundkortet's context menu: right-clicking the card (or Shift+F10 / the menu key
   on it) opens the card's actions at the pointer, with "Rapporter" as a submenu
   (FAQ: "högerklicka på kundkortet och välj Rapporter – Fakturarapport").
   Keyboard: arrows move, → or Enter opens the submenu, ← closes it, Esc closes
   the menu and gives focus back. The same entries are in the Åtgärder button. */
(function () {
  "use strict";
  var menu = document.getElementById("card-context-menu");
  var card = document.getElementById("customer-card");
  if (!menu || !card) { return; }
  var returnFocus = null;

  function ordered(container) {
    return Array.prototype.filter.call(container.querySelectorAll(".dropdown-item"), function (el) {
      return el.closest(".dropdown-menu") === container;
    });
  }
  function closeSubmenus() {
    menu.querySelectorAll(".card-context-submenu.show").forEach(function (sub) {
      sub.classList.remove("show");
      sub.parentNode.querySelector(".card-submenu-toggle").setAttribute("aria-expanded", "false");
    });
  }
  function openSubmenu(toggle) {
    var sub = toggle.parentNode.querySelector(".card-context-submenu");
    sub.classList.add("show");
    toggle.setAttribute("aria-expanded", "true");
    var first = ordered(sub)[0];
    if (first) { first.focus(); }
  }
  function close(restore) {
    closeSubmenus();
    menu.classList.remove("show");
    if (restore && returnFocus) { returnFocus.focus(); }
  }
  function open(x, y) {
    menu.style.position = "fixed";
    menu.style.left = Math.min(x, window.innerWidth - 260) + "px";
    menu.style.top = Math.min(y, window.innerHeight - 40) + "px";
    menu.classList.add("show");
    var first = ordered(menu)[0];
    if (first) { first.focus(); }
  }

  card.addEventListener("contextmenu", function (e) {
    if (e.target.closest("input, textarea, select, [contenteditable]")) { return; }  // keep the browser's menu for editing
    if (e.target.closest(".crm-row-menu")) { return; }  // a contact's row has its own menu (card_tabs.js)
    e.preventDefault();
    returnFocus = document.activeElement;
    var x = e.clientX, y = e.clientY;
    if (!x && !y) {  // opened from the keyboard: at the focused element
      var box = (document.activeElement || card).getBoundingClientRect();
      x = box.left + 10; y = box.bottom;
    }
    open(x, y);
  });
  menu.addEventListener("keydown", function (e) {
    var current = document.activeElement;
    var container = current.closest(".dropdown-menu");
    var list = ordered(container);
    var index = list.indexOf(current);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var next = list[(index + (e.key === "ArrowDown" ? 1 : list.length - 1)) % list.length];
      if (next) { next.focus(); }
    } else if ((e.key === "ArrowRight" || e.key === "Enter" || e.key === " ") && current.classList.contains("card-submenu-toggle")) {
      e.preventDefault();
      openSubmenu(current);
    } else if (e.key === "ArrowLeft" && container.classList.contains("card-context-submenu")) {
      e.preventDefault();
      closeSubmenus();
      container.parentNode.querySelector(".card-submenu-toggle").focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      close(true);
    } else if (e.key === "Tab") {
      close(false);
    }
  });
  menu.querySelectorAll(".card-submenu-toggle").forEach(function (toggle) {
    toggle.addEventListener("click", function (e) { e.stopPropagation(); openSubmenu(toggle); });
    toggle.parentNode.addEventListener("mouseenter", function () {
      toggle.parentNode.querySelector(".card-context-submenu").classList.add("show");
      toggle.setAttribute("aria-expanded", "true");
    });
    toggle.parentNode.addEventListener("mouseleave", function () { closeSubmenus(); });
  });
  document.addEventListener("click", function (e) { if (!menu.contains(e.target)) { close(false); } });
  window.addEventListener("scroll", function () { close(false); }, {passive: true});
})();
