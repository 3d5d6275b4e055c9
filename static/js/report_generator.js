/* Rapportgenerator: the arrows move a column earlier or later (the ticked
   columns are sent in the order they stand); changing what to report on
   reloads the form with that record kind's columns and conditions. */
(function () {
  "use strict";
  var form = document.getElementById("report-generator");
  if (!form) { return; }
  var list = document.getElementById("report-columns");
  list.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    var item = button.closest("li");
    if (button.classList.contains("move-left") && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.classList.contains("move-right") && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    }
    button.focus();
  });
  document.getElementById("entity").addEventListener("change", function () {
    var entity = this.value;
    window.location.search = "?entity=" + encodeURIComponent(entity);
  });
})();
