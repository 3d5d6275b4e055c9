/* "Koppla existerande kontakt till företaget": search contacts as you type,
   tick one or more, then "Lägg till". Ticked contacts stay ticked while the
   search text changes. Bound by delegation: the Kontakter tab loads lazily. */
(function () {
  "use strict";
  var chosen = {};
  var timer = null;

  function item(contact) {
    var li = document.createElement("li");
    li.className = "list-group-item py-1";
    var label = document.createElement("label");
    label.className = "mb-0 d-block";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = "contact_id";
    box.value = contact.id;
    box.className = "mr-2";
    box.checked = Boolean(chosen[contact.id]);
    box.addEventListener("change", function () {
      if (box.checked) { chosen[contact.id] = contact; } else { delete chosen[contact.id]; }
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(contact.name));
    var details = [contact.companies, contact.email, contact.phone].filter(Boolean).join(" · ");
    if (details) {
      var small = document.createElement("small");
      small.className = "text-muted ml-2";
      small.textContent = details;
      label.appendChild(small);
    }
    li.appendChild(label);
    return li;
  }

  function render(input, results) {
    var list = document.getElementById("contact-results");
    list.innerHTML = "";
    var shown = {};
    Object.keys(chosen).forEach(function (id) { list.appendChild(item(chosen[id])); shown[id] = true; });
    results.forEach(function (c) { if (!shown[c.id]) { list.appendChild(item(c)); } });
    if (!results.length && input.value.trim()) {
      var li = document.createElement("li");
      li.className = "list-group-item text-muted";
      li.textContent = input.dataset.empty;
      list.appendChild(li);
    }
  }

  function search(input) {
    var q = input.value.trim();
    if (!q) { render(input, []); return; }
    fetch(input.dataset.url + "?q=" + encodeURIComponent(q), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (results) { render(input, results); })
      .catch(function () { render(input, []); });
  }

  document.addEventListener("input", function (e) {
    if (e.target.id !== "contact-search") { return; }
    clearTimeout(timer);
    timer = setTimeout(function () { search(e.target); }, 200);
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.id === "contact-search" && e.key === "Enter") {
      e.preventDefault();
      clearTimeout(timer);
      search(e.target);
    }
  });
})();
