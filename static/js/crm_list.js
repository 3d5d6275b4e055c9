/* The list toolbar (templates/admin/crm_list.html).
   - "Radera" and "Fler åtgärder" run Flask-Admin's list actions on the ticked rows.
   - FAQ: "Fler sökalternativ", choose e.g. Kundansvarig, then "Sök". The search button sends the
     search options shown under the toolbar (the filter form) with the search text, so a
     just-chosen option is not silently dropped. */
(function () {
  "use strict";
  document.querySelectorAll("[data-list-action]").forEach(function (element) {
    element.addEventListener("click", function (event) {
      event.preventDefault();
      if (window.modelActions) { window.modelActions.execute(element.getAttribute("data-list-action")); }
    });
  });
  document.querySelectorAll(".field-filters a.filter").forEach(function (element) {
    element.addEventListener("click", function (event) { event.preventDefault(); });
  });

  var search = document.querySelector(".crm-toolbar form.crm-search");
  var filters = document.getElementById("filter_form");
  if (!search || !filters) { return; }
  search.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = filters.querySelector("input[name=search]");
    if (!text) {
      text = document.createElement("input");
      text.type = "hidden";
      text.name = "search";
      filters.appendChild(text);
    }
    text.value = search.querySelector("input[name=search]").value;
    if (!text.value) { text.disabled = true; }
    filters.submit();
  });
})();
