/* WCAG 2.1 AA for what other code builds (tests/browser/test_accessibility.py, axe-core):
   - a table wider than its box scrolls sideways inside .table-responsive: such a box is made
     reachable and scrollable by keyboard (tabindex 0, a region named after its table);
   - Flask-Admin's select2 3.5 single-choice box is a link with no text of its own: it gets the
     label of the field it stands for.
   Run when the page has loaded, on resizing, when a card tab's content arrives (card_tabs.js:
   "card:tab-loaded") and, for the select boxes, whenever the page's elements change. */
(function () {
  "use strict";
  function text(element) {
    return element ? element.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function tableName(box) {
    var table = box.querySelector("table");
    if (!table) {
      return document.title;
    }
    var labelledBy = table.getAttribute("aria-labelledby");
    return table.getAttribute("aria-label") || (labelledBy && text(document.getElementById(labelledBy))) ||
      text(table.caption) || text(table.querySelector("thead")) || document.title;
  }

  function markScrollingTables() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", tableName(box));
        box.dataset.scrollRegion = "1";
      } else if (!scrolls && box.dataset.scrollRegion) {
        ["tabindex", "role", "aria-label", "data-scroll-region"].forEach(function (name) { box.removeAttribute(name); });
      }
    });
  }

  function nameSelectBoxes() {
    document.querySelectorAll(".select2-container a.select2-choice:not([aria-label])").forEach(function (link) {
      var container = link.closest(".select2-container");
      var fieldId = container.id.replace(/^s2id_/, "");
      var label = document.querySelector('label[for="' + fieldId + '"]');
      if (label) {
        link.setAttribute("aria-label", text(label));
      }
    });
  }

  function update() {
    markScrollingTables();
    nameSelectBoxes();
  }

  window.addEventListener("load", update);
  window.addEventListener("resize", markScrollingTables);
  document.addEventListener("card:tab-loaded", update);
  /* Flask-Admin builds its select2 boxes in a jQuery ready handler, which may run after "load". */
  new MutationObserver(nameSelectBoxes).observe(document.body, {childList: true, subtree: true});
}());
