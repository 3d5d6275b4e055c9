/* Behörigheter: "Välj ordningsföljd i undermenyn". The dialog lists the rows
   of one group; they are reordered by drag and drop, by the arrow buttons, or
   by Alt+ArrowUp/ArrowDown, and "Spara ordning" writes the order back into the
   group's form and submits it. Right-clicking a row opens the same dialog. */
(function ($) {
  "use strict";
  var list = document.getElementById("ordering-list");
  if (!list) { return; }
  var currentForm = null;
  var dragged = null;

  function move(li, delta) {
    var target = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!target) { return; }
    if (delta < 0) { list.insertBefore(li, target); } else { list.insertBefore(target, li); }
    li.querySelector(delta < 0 ? ".order-up" : ".order-down").focus();
  }

  function button(cls, label, symbol, li, delta) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-sm btn-outline-secondary ml-1 " + cls;
    b.setAttribute("aria-label", label + ": " + li.dataset.label);
    b.textContent = symbol;
    b.addEventListener("click", function () { move(li, delta); });
    return b;
  }

  function open(form) {
    currentForm = form;
    list.innerHTML = "";
    form.querySelectorAll(".layout-item").forEach(function (row) {
      var li = document.createElement("li");
      li.className = "list-group-item d-flex align-items-center py-1 ordering-item";
      li.draggable = true;
      li.dataset.key = row.dataset.key;
      li.dataset.label = row.querySelector("label").textContent.trim();
      var handle = document.createElement("span");
      handle.className = "fa fa-bars mr-2 text-muted";
      handle.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.className = "mr-auto";
      text.textContent = li.dataset.label;
      li.appendChild(handle);
      li.appendChild(text);
      li.appendChild(button("order-up", list.dataset.up, "↑", li, -1));
      li.appendChild(button("order-down", list.dataset.down, "↓", li, 1));
      li.addEventListener("dragstart", function (e) { dragged = li; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", li.dataset.key); });
      li.addEventListener("dragover", function (e) {
        e.preventDefault();
        if (!dragged || dragged === li) { return; }
        var box = li.getBoundingClientRect();
        list.insertBefore(dragged, (e.clientY - box.top) > box.height / 2 ? li.nextSibling : li);
      });
      li.addEventListener("dragend", function () { dragged = null; });
      li.addEventListener("keydown", function (e) {
        if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) { e.preventDefault(); move(li, e.key === "ArrowUp" ? -1 : 1); }
      });
      list.appendChild(li);
    });
    $("#ordering-dialog").modal("show");
  }

  document.getElementById("ordering-save").addEventListener("click", function () {
    if (!currentForm) { return; }
    var items = currentForm.querySelector(".layout-items");
    Array.prototype.forEach.call(list.children, function (li) {
      items.appendChild(currentForm.querySelector('.layout-item[data-key="' + li.dataset.key + '"]'));
    });
    currentForm.submit();
  });

  document.querySelectorAll(".open-ordering").forEach(function (b) {
    b.addEventListener("click", function () { open(document.querySelector(b.dataset.target)); });
  });

  var menu = document.getElementById("ordering-context-menu");
  var menuForm = null;
  document.querySelectorAll(".layout-group").forEach(function (form) {
    form.addEventListener("contextmenu", function (e) {
      e.preventDefault();
      menuForm = form;
      menu.style.position = "fixed";
      menu.style.left = e.clientX + "px";
      menu.style.top = e.clientY + "px";
      menu.classList.add("show");
      menu.querySelector("button").focus();
    });
  });
  document.getElementById("context-open-ordering").addEventListener("click", function () {
    menu.classList.remove("show");
    if (menuForm) { open(menuForm); }
  });
  document.addEventListener("click", function (e) { if (!menu.contains(e.target)) { menu.classList.remove("show"); } });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { menu.classList.remove("show"); } });
})(jQuery);
