/* Pipeline board: drag a card to another stage's column. The move is posted
   (with the CSRF token) to the same endpoint the card's own "Flytta" form
   uses; a lost stage asks for the reason first. On refusal the card goes back. */
(function () {
  "use strict";
  var board = document.getElementById("pipeline");
  if (!board) { return; }
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var dragged = null;
  board.addEventListener("dragstart", function (e) {
    dragged = e.target.closest(".pipeline-card");
    if (dragged) { e.dataTransfer.setData("text/plain", dragged.dataset.id); e.dataTransfer.effectAllowed = "move"; }
  });
  board.addEventListener("dragover", function (e) {
    if (dragged && e.target.closest(".pipeline-column")) { e.preventDefault(); }
  });
  board.addEventListener("drop", function (e) {
    var column = e.target.closest(".pipeline-column");
    if (!dragged || !column) { return; }
    e.preventDefault();
    var card = dragged, origin = card.parentNode, before = card.nextSibling;
    dragged = null;
    if (column.contains(card)) { return; }
    var body = new URLSearchParams({csrf_token: token, id: card.dataset.id, stage: column.dataset.stage});
    if (column.dataset.lost === "1") {
      var reason = window.prompt(board.dataset.reason);
      if (!reason) { return; }
      body.set("lost_reason", reason);
    }
    column.querySelector(".pipeline-cards").appendChild(card);
    fetch(board.dataset.move, {method: "POST", credentials: "same-origin", body: body,
                               headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
      .then(function (res) {
        if (!res.ok) { throw new Error(res.data.message); }
        var select = card.querySelector("select[name=stage]");
        if (select) { select.value = column.dataset.stage; }
      })
      .catch(function (err) {
        origin.insertBefore(card, before);
        window.alert(err && err.message ? err.message : board.dataset.error);
      });
  });
})();
