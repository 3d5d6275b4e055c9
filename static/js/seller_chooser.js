/* "Välj säljare": after ticking groups and sellers in the chooser, show the
   chosen names in the field beside the "Välj" button. */
(function () {
  "use strict";
  var field = document.getElementById("chosen-sellers");
  var chooser = document.getElementById("seller-chooser");
  if (!field || !chooser) { return; }
  function update() {
    var names = [];
    chooser.querySelectorAll(".chooser-box:checked").forEach(function (box) { names.push(box.dataset.name); });
    field.value = names.length ? names.join(", ") : field.dataset.all;
  }
  chooser.addEventListener("change", update);
})();
