/* Customer card. A tab's content is fetched the first time it is shown
   (and its pager links reload only the tab); the URL hash names the open tab
   (#contacts …) so reloads and links land on it. */
(function ($) {
  "use strict";
  function load(pane, url) {
    return fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { return r.text().then(function (html) { return {ok: r.ok, html: html}; }); })
      .then(function (res) {
        pane.innerHTML = res.ok ? res.html : '<div class="alert alert-danger">' + (pane.dataset.error || "") + "</div>";
        pane.dataset.loaded = "1";
        document.dispatchEvent(new CustomEvent("card:tab-loaded", {detail: pane.id}));
      });
  }
  function show(hash) {
    var link = $('#card-tabs a[href="' + hash + '"]');
    if (link.length) { link.tab("show"); }
  }
  $('#card-tabs a[data-toggle="tab"]').on("show.bs.tab", function (e) {
    var pane = document.querySelector(e.target.hash);
    if (pane && !pane.dataset.loaded && e.target.dataset.src) { load(pane, e.target.dataset.src); }
  }).on("shown.bs.tab", function (e) {
    history.replaceState(null, "", e.target.hash);
  });
  $(document).on("click", ".tab-pane a.card-page", function (e) {
    e.preventDefault();
    load(this.closest(".tab-pane"), this.href);
  });
  /* Right-clicking the card opens its context menu: card_context_menu.js. */
  /* Menus in a loaded tab open once per click: Flask-Admin loads Bootstrap's dropdown code twice and
     only binds its one-toggle fix to the menus there at page load, not to those a tab brings later. */
  $(".tab-pane").on("click", "[data-toggle='dropdown']", function (e) {
    e.preventDefault();
    e.stopPropagation();
    $(this).dropdown("toggle");
  });
  /* Right-clicking a contact in the lower half of the card opens that row's menu (FAQ: e-mail, SMS). */
  $(document).on("contextmenu", ".crm-row-menu", function (e) {
    if ($(e.target).closest("a, button, input").length) { return; }
    e.preventDefault();
    $(this).find(".crm-row-menu-button").dropdown("toggle").trigger("focus");
  });
  if (window.location.hash) { show(window.location.hash); }
  $(window).on("hashchange", function () { show(window.location.hash); });
})(jQuery);
