/* Order and invoice lines: "Lägg till rad" copies an empty row, and typing in
   a row's product field looks products up (JSON) and fills text, unit, price
   and VAT from the chosen one. Without JavaScript the product number alone
   is enough: the server finds the product by it. */
(function () {
  "use strict";
  var table = document.getElementById("document-lines");
  if (!table) { return; }
  var options = document.getElementById("product-options");
  var found = {};
  var timer = null;

  function fill(row, product) {
    var set = function (cls, value) {
      var input = row.querySelector(".line-" + cls);
      if (input) { input.value = value; }
    };
    set("product", product.number);
    if (!row.querySelector(".line-description").value) { set("description", product.name); }
    set("unit", product.unit || "");
    set("unit_price", product.price);
    set("vat_rate", product.vat_rate);
  }

  /* Look up products matching the field; with `fillRow`, fill the row when one matches exactly. */
  function lookup(input, fillRow) {
    var text = input.value.trim();
    if (found[text]) {
      if (fillRow) { fill(input.closest("tr"), found[text]); }
      return;
    }
    if (!text) { return; }
    clearTimeout(timer);
    timer = setTimeout(function () {
      fetch(table.dataset.lookup + "?q=" + encodeURIComponent(text.split(" ")[0]), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (products) {
          options.innerHTML = "";
          products.forEach(function (p) {
            found[p.label] = p;
            found[p.number] = p;
            var option = document.createElement("option");
            option.value = p.label;
            options.appendChild(option);
          });
          if (fillRow && found[input.value.trim()]) { fill(input.closest("tr"), found[input.value.trim()]); }
        });
    }, fillRow ? 0 : 150);
  }

  table.addEventListener("input", function (e) {
    if (e.target.classList.contains("line-product")) { lookup(e.target, false); }
  });
  table.addEventListener("change", function (e) {
    if (e.target.classList.contains("line-product")) { lookup(e.target, true); }
  });

  var add = document.getElementById("add-line");
  add.hidden = false;
  add.addEventListener("click", function () {
    var rows = table.querySelectorAll("tbody tr");
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var index = rows.length;
    copy.querySelectorAll("input, select").forEach(function (input) {
      input.name = input.name.replace(/^lines-\d+-/, "lines-" + index + "-");
      var label = input.getAttribute("aria-label");
      if (label) { input.setAttribute("aria-label", label.replace(/\d+$/, String(index + 1))); }
      if (input.tagName === "INPUT" && !input.classList.contains("line-quantity") && !input.classList.contains("line-discount_percent")) {
        input.value = "";
      }
    });
    table.querySelector("tbody").appendChild(copy);
    copy.querySelector(".line-product").focus();
  });
})();
