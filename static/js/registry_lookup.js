/* "Sök i företagsregistret": matches from the company register as you type (name or
   organisationsnummer); choosing one fills the form's fields of the same names (name or
   company_name, org_number, legal_form, postal address …). A deregistered company is marked and
   is filled in only after a confirmation. No inline script: texts come from data attributes. */
(function () {
  "use strict";
  var box = document.getElementById("registry-lookup");
  if (!box) { return; }
  var input = document.getElementById("registry-search");
  var list = document.getElementById("registry-results");
  var message = document.getElementById("registry-message");
  var dateLine = document.getElementById("registry-date");
  var fill = box.dataset.fill === "1";
  var timer = null;
  var asked = 0;
  var shown = [];

  function text(name, values) {
    var value = box.dataset[name] || "";
    Object.keys(values || {}).forEach(function (key) { value = value.split("{" + key + "}").join(values[key]); });
    return value;
  }

  function form() {
    return document.querySelector("form.admin-form");
  }

  function say(content, kind) {
    message.className = "mt-1 small" + (kind ? " text-" + kind : "");
    message.textContent = content || "";
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined && content !== null) { node.textContent = content; }
    return node;
  }

  function existingLine(entry) {
    if (!entry.existing || !entry.existing.length) { return null; }
    var line = element("div", "small registry-existing", text("textExisting") + " ");
    entry.existing.forEach(function (found, index) {
      if (index) { line.appendChild(document.createTextNode("; ")); }
      line.appendChild(document.createTextNode(found.label + ": "));
      if (found.url) {
        var link = element("a", "", found.name);
        link.href = found.url;
        line.appendChild(link);
      } else {
        line.appendChild(document.createTextNode(found.name));
      }
    });
    return line;
  }

  function item(entry, index) {
    var row = element("div", "list-group-item list-group-item-action py-1 registry-result" +
      (entry.active ? "" : " list-group-item-warning registry-deregistered"));
    row.setAttribute("role", "option");
    row.tabIndex = 0;
    row.dataset.index = String(index);
    var head = element("div", "d-flex justify-content-between");
    head.appendChild(element("strong", "registry-name", entry.name));
    head.appendChild(element("span", "badge " + (entry.active ? "badge-success" : "badge-warning") + " align-self-center",
      entry.active ? text("textActive") : text("textDeregistered") + (entry.deregistered_on ? " " + entry.deregistered_on : "")));
    row.appendChild(head);
    row.appendChild(element("div", "small text-muted",
      [entry.org_number_display, entry.legal_form_label, entry.postal_city].filter(Boolean).join(" · ")));
    var existing = existingLine(entry);
    if (existing) { row.appendChild(existing); }
    if (fill) {
      row.addEventListener("click", function (event) {
        if (event.target.tagName !== "A") { choose(index); }
      });
      row.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); choose(index); }
        if (event.key === "ArrowDown" && row.nextSibling) { event.preventDefault(); row.nextSibling.focus(); }
        if (event.key === "ArrowUp") { event.preventDefault(); (row.previousSibling || input).focus(); }
      });
    }
    return row;
  }

  function setField(target, name, value) {
    var field = target.querySelector("[name='" + name + "']");
    if (!field || value === null || value === undefined) { return false; }
    if (field.tagName === "SELECT") {
      if (!Array.prototype.some.call(field.options, function (o) { return o.value === value; })) { return false; }
    }
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function choose(index) {
    var entry = shown[index];
    var target = form();
    if (!entry || !target) { return; }
    if (!entry.active && !window.confirm(text("textConfirm", { name: entry.name }))) { return; }
    Object.keys(entry.fields).forEach(function (name) { setField(target, name, entry.fields[name]); });
    list.innerHTML = "";
    say(text("textFilled", { name: entry.name }), "success");
    var existing = existingLine(entry);
    if (existing) { message.appendChild(existing); }
  }

  function render(data) {
    shown = data.results || [];
    list.innerHTML = "";
    dateLine.textContent = data.data_date ? text("textDate", { date: data.data_date }) : "";
    shown.forEach(function (entry, index) { list.appendChild(item(entry, index)); });
    if (data.warning) { say(data.warning, "warning"); }
    else if (!shown.length && input.value.trim()) { say(text("textNone"), "muted"); }
    else { say(""); }
  }

  function search() {
    var query = input.value.trim();
    var ticket = ++asked;
    if (!query) { list.innerHTML = ""; say(""); return; }
    fetch(box.dataset.url + "?q=" + encodeURIComponent(query), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      if (ticket === asked) { render(data); }
    }).catch(function () {
      if (ticket === asked) { say(text("textError"), "danger"); }
    });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 200);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {  // never submits the form around it
      event.preventDefault();
      if (shown.length && fill) { choose(0); }
    }
    if (event.key === "ArrowDown" && list.firstChild) { event.preventDefault(); list.firstChild.focus(); }
  });
})();
