/* Customer card tabs: open the tab named in the URL (#kontakter …), and keep
   the URL in step when the user changes tab, so reloads and links land right. */
(function ($) {
  "use strict";
  function show(hash) {
    var link = $('#card-tabs a[href="' + hash + '"]');
    if (link.length) { link.tab("show"); }
  }
  if (window.location.hash) { show(window.location.hash); }
  $('#card-tabs a[data-toggle="tab"]').on("shown.bs.tab", function (e) {
    history.replaceState(null, "", e.target.hash);
  });
  $(window).on("hashchange", function () { show(window.location.hash); });
})(jQuery);
