/* track.js: the deck's own events, sent with collect.js (loaded before it when the deck has a
 * write key). deck.js calls deckTrack('search', {query}) for each search; opening a tweet or a
 * popular item sends a detail_view. The viewer is the user of an open "Recent views" column, so
 * that column moves with the deck's own use. */
(function () {
  'use strict';
  function viewer() {
    var s = document.querySelector('section[data-col^="user:"]');
    return s ? s.dataset.col.slice(5) : '';
  }
  window.deckTrack = function (kind, fields) {
    if (!window.collect) return;
    window.collect.setUser(viewer());
    window.collect.track(kind, fields);
  };
  document.addEventListener('click', function (ev) {
    var t = ev.target;
    if (!t.closest || t.closest('a.tag, button')) return;
    var tweet = t.closest('li.tweet[data-id]');
    if (tweet) { window.deckTrack('detail_view', { item_id: tweet.dataset.id }); return; }
    var item = t.closest('section[data-col="rank:popularity"] li.rank[data-key]');
    if (item) window.deckTrack('detail_view', { item_id: item.dataset.key });
  });
})();
