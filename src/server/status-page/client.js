// The status page's script. Plain browser JavaScript, served inline by the daemon
// (read once at start by page.ts); it talks only to the daemon's own API.
(function () {
  'use strict';
  var PAGE_SIZE = 100;
  var HISTORY = 30;
  var TOKEN_KEY = 'scaiprobe.token';
  var view = { status: '', q: '', offset: 0 };
  var rows = new Map();
  // Maintenance windows in force (readable with the admin token only): their probes' rows say so.
  var windows = [];
  var refreshTimer = null;
  var $ = function (id) {
    return document.getElementById(id);
  };

  function esc(text) {
    return String(text == null ? '' : text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function token() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }
  function headers() {
    var t = token();
    return t ? { authorization: 'Bearer ' + t } : {};
  }

  // A side panel the token may not read (a public page without a token, a tenant's token and
  // the operator's alerts) says so in the panel; only the main list asks for a token.
  var NOT_READABLE = '<p class="empty">Not readable without the admin token.</p>';
  function api(path, panel) {
    return fetch(path, { headers: headers(), cache: 'no-store' }).then(function (res) {
      if (panel && (res.status === 401 || res.status === 403)) throw new Error('not-readable');
      if (res.status === 401) {
        showLogin();
        throw new Error('unauthorized');
      }
      return res;
    });
  }

  function ago(ms) {
    if (ms == null) return 'never';
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.round(s / 60) + 'm ago';
    if (s < 86400) return Math.round(s / 3600) + 'h ago';
    return Math.round(s / 86400) + 'd ago';
  }
  function dur(ms) {
    return ms == null ? '' : ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
  }

  function strip(history) {
    var cells = '';
    for (var i = 0; i < history.length; i++) cells += '<i class="' + history[i] + '"></i>';
    return '<span class="strip" title="last ' + history.length + ' runs, oldest first">' + cells + '</span>';
  }

  function messageOf(p) {
    var text = p.message || '';
    return p.errorCode && text.indexOf(p.errorCode) !== 0 ? p.errorCode + ': ' + text : text;
  }

  function globMatch(pattern, text) {
    var parts = pattern.split('*').map(function (part) {
      return part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    });
    return new RegExp('^' + parts.join('.*') + '$').test(text);
  }
  function windowOf(probe) {
    for (var i = 0; i < windows.length; i++) {
      if (
        windows[i].probes.some(function (g) {
          return globMatch(g, probe);
        })
      )
        return windows[i];
    }
    return null;
  }

  // A fleet's probe: a dot per location with that location's newest run (none for a single daemon).
  function locationDots(p) {
    if (!p.locations || !p.locations.length) return '';
    return (
      '<span class="locs">' +
      p.locations
        .map(function (l) {
          return (
            '<i class="loc ' +
            esc(l.status) +
            '" data-location="' +
            esc(l.location) +
            '" title="' +
            esc(l.location + ': ' + l.status + ' ' + ago(l.startedAt) + (l.message ? ' · ' + l.message : '')) +
            '"></i>'
          );
        })
        .join('') +
      '</span>'
    );
  }
  // A run from a location moves that location's dot (a run older than the dot's, copied late, does not).
  function applyLocation(p, e) {
    if (!e.location) return;
    var list = p.locations || (p.locations = []);
    var found = list.filter(function (l) {
      return l.location === e.location;
    })[0];
    if (found && found.startedAt > e.startedAt) return;
    var next = { location: e.location, status: e.status, startedAt: e.startedAt, message: e.message };
    next.statusSince = found && found.status === e.status ? found.statusSince : e.startedAt + e.durationMs;
    if (found) list[list.indexOf(found)] = next;
    else list.push(next);
    list.sort(function (a, b) {
      return a.location < b.location ? -1 : a.location > b.location ? 1 : 0;
    });
  }

  function rowHtml(p) {
    var state = p.status || 'pending';
    var held = windowOf(p.probe);
    var label = state === 'pending' ? 'not run' : state;
    var when = p.startedAt == null ? null : p.startedAt + (p.durationMs || 0);
    return (
      '<tr class="' +
      state +
      '" data-probe="' +
      esc(p.probe) +
      '">' +
      '<td><span class="state ' +
      state +
      '">' +
      label +
      '</span>' +
      locationDots(p) +
      '</td>' +
      '<td class="name">' +
      esc(p.probe) +
      (held
        ? ' <span class="maint" title="alerts held until ' +
          esc(new Date(held.endsAt).toLocaleString()) +
          (held.reason ? ': ' + esc(held.reason) : '') +
          '">maintenance</span>'
        : '') +
      '<small>' +
      esc(p.kind) +
      (p.tenant ? ' · tenant ' + esc(p.tenant) : '') +
      '</small></td>' +
      '<td class="when" data-at="' +
      (when == null ? '' : when) +
      '" title="' +
      (when ? new Date(when).toLocaleString() : '') +
      '">' +
      ago(when) +
      '<br><small>' +
      dur(p.durationMs) +
      '</small></td>' +
      '<td class="msg">' +
      esc(messageOf(p)) +
      '</td>' +
      '<td>' +
      strip(p.history || '') +
      '</td></tr>'
    );
  }

  function renderPage(data) {
    var c = data.counts;
    var buttons = [
      ['', 'all', c.all],
      ['fail', 'failing', c.fail],
      ['warn', 'warning', c.warn],
      ['pass', 'passing', c.pass],
      ['pending', 'not run yet', c.pending],
    ];
    $('counts').innerHTML = buttons
      .map(function (b) {
        return (
          '<button data-status="' +
          b[0] +
          '" class="' +
          (b[0] || 'all') +
          (view.status === b[0] ? ' active' : '') +
          '">' +
          b[2] +
          ' ' +
          b[1] +
          '</button>'
        );
      })
      .join('');
    rows.clear();
    data.probes.forEach(function (p) {
      rows.set(p.probe, p);
    });
    $('rows').innerHTML = data.probes.length
      ? data.probes.map(rowHtml).join('')
      : '<tr><td colspan="5" class="empty">' +
        (c.all ? 'No probe matches this filter.' : 'No probes are configured.') +
        '</td></tr>';
    var from = data.total ? data.offset + 1 : 0,
      to = Math.min(data.total, data.offset + data.limit);
    $('range').textContent = from + '–' + to + ' of ' + data.total;
    $('prev').disabled = data.offset === 0;
    $('next').disabled = to >= data.total;
    document.title = (c.fail ? c.fail + ' failing · ' : '') + 'scaiprobe status';
    document.body.dataset.loaded = 'true';
  }

  function load() {
    var q =
      '/api/v1/status?limit=' +
      PAGE_SIZE +
      '&n=' +
      HISTORY +
      '&offset=' +
      view.offset +
      (view.status ? '&status=' + encodeURIComponent(view.status) : '') +
      (view.q ? '&q=' + encodeURIComponent(view.q) : '');
    return api(q)
      .then(function (res) {
        return res.json();
      })
      .then(renderPage)
      .catch(function (e) {
        if (e.message !== 'unauthorized')
          $('rows').innerHTML =
            '<tr><td colspan="5" class="empty">Could not load probes: ' + esc(e.message) + '</td></tr>';
      });
  }
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      load();
    }, 1500);
  }

  // A run ended: update its row in place now; counts and order catch up on the next refresh.
  function applyRuns(events) {
    var changed = false;
    events.forEach(function (e) {
      var p = rows.get(e.probe);
      if (!p) {
        changed = true;
        return;
      }
      applyLocation(p, e);
      // The row shows the newest run from any location; one copied late from another agent leaves it.
      if (p.startedAt == null || e.startedAt >= p.startedAt) {
        if (p.status !== e.status) changed = true;
        p.status = e.status;
        p.startedAt = e.startedAt;
        p.durationMs = e.durationMs;
        p.message = e.message;
        p.errorCode = e.errorCode;
      }
      p.history = ((p.history || '') + e.status[0]).slice(-HISTORY);
      var tr = document.querySelector('tr[data-probe="' + CSS.escape(e.probe) + '"]');
      if (tr) tr.outerHTML = rowHtml(p);
    });
    if (changed) scheduleRefresh();
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  // Server-sent events read through fetch so the bearer token goes in a header, not the URL.
  function listen() {
    var live = $('live');
    fetch('/api/v1/events', { headers: headers() })
      .then(function (res) {
        if (!res.ok || !res.body) throw new Error('events ' + res.status);
        live.textContent = 'live';
        live.className = 'live on';
        var reader = res.body.getReader(),
          decoder = new TextDecoder(),
          buffer = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) throw new Error('closed');
            buffer += decoder.decode(chunk.value, { stream: true });
            var cut;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              var block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              var type = 'message',
                data = '';
              block.split('\n').forEach(function (line) {
                if (line.indexOf('event:') === 0) type = line.slice(6).trim();
                else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
              });
              if (type === 'runs' && data) applyRuns(JSON.parse(data));
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function () {
        live.textContent = 'reconnecting…';
        live.className = 'live off';
        setTimeout(function () {
          load();
          listen();
        }, 3000);
      });
  }

  function listOf(body, key) {
    if (Array.isArray(body)) return body;
    if (body && Array.isArray(body[key])) return body[key];
    return [];
  }
  // Alerts and indicators come from the alerting/indicator parts when this daemon has them.
  // Shows the entries that need attention (at most 20); the rest are counted, not listed.
  function side(path, key, target, none, render, wanted) {
    api(path, true)
      .then(function (res) {
        if (res.status === 404) {
          $(target).innerHTML = '<p class="empty">' + none + '</p>';
          return;
        }
        return res.json().then(function (body) {
          var all = listOf(body, key),
            list = all.filter(wanted),
            shown = list.slice(0, 20);
          var rest =
            (list.length > shown.length ? list.length - shown.length + ' more; ' : '') +
            (all.length - list.length) +
            ' ok';
          $(target).innerHTML =
            (shown.length
              ? '<ul class="plain">' + shown.map(render).join('') + '</ul>'
              : '<p class="empty">None right now.</p>') +
            (all.length > shown.length ? '<p class="empty">' + rest + '</p>' : '');
        });
      })
      .catch(function (e) {
        $(target).innerHTML = e.message === 'not-readable' ? NOT_READABLE : '<p class="empty">' + none + '</p>';
      });
  }
  // A failure seen from fewer locations than its rule's quorum: the alert is ok, the note says where it fails.
  function alertItem(a) {
    var local = a.status === 'ok' && a.local ? a.local : null;
    return (
      '<li><span class="sev ' +
      esc(a.severity) +
      '">' +
      esc(a.severity || '') +
      '</span><b>' +
      esc(a.rule) +
      '</b>' +
      (a.target ? ' · ' + esc(a.target) : '') +
      (a.status !== 'firing' ? ' <small>(' + esc(local ? 'local' : a.status) + ')</small>' : '') +
      '<br><small>' +
      esc(local ? local.message : a.summary || '') +
      (a.firedAt ? ' · since ' + esc(new Date(a.firedAt).toLocaleString()) : '') +
      '</small></li>'
    );
  }
  // Notifications a receiver refused for good (a 4xx other than 408, 409, 425, 429) are not retried:
  // the channel needs fixing, so they stand under the alerts with the receiver's own answer.
  function failedItem(r) {
    return (
      '<li class="failed-notification"><span class="sev critical">failed</span><b>' +
      esc(r.channel) +
      '</b> · ' +
      esc(r.event) +
      ' <small title="alert ' +
      esc(r.alertId) +
      '">(' +
      r.attempts +
      ' attempt' +
      (r.attempts === 1 ? '' : 's') +
      ', ' +
      ago(r.finishedAt) +
      ')</small><br><small>' +
      esc(r.lastError || '') +
      (r.lastResponse ? ': ' + esc(r.lastResponse) : '') +
      '</small></li>'
    );
  }
  function failedNotifications() {
    api('/api/v1/alerts/outbox?status=failed', true)
      .then(function (res) {
        return res.ok ? res.json() : { rows: [] };
      })
      .then(function (body) {
        var list = body.rows || [],
          n = (body.counts && body.counts.failed) || list.length;
        $('alert-failures').innerHTML = list.length
          ? '<p><b>' +
            n +
            ' notification' +
            (n === 1 ? '' : 's') +
            ' failed</b> <small>(refused by the receiver; not retried)</small></p>' +
            '<ul class="plain">' +
            list.slice(0, 5).map(failedItem).join('') +
            '</ul>'
          : '';
      })
      .catch(function () {
        $('alert-failures').innerHTML = '';
      });
  }
  function indicatorItem(i) {
    var v =
      i.value == null
        ? '—'
        : i.unit === 'ratio'
          ? (i.value * 100).toFixed(2) + ' %'
          : i.unit === 'ms'
            ? dur(i.value)
            : String(i.value);
    return (
      '<li><span class="sev ' +
      esc(i.state) +
      '">' +
      esc(i.state) +
      '</span><b>' +
      esc(i.name) +
      '</b> ' +
      esc(i.subject || '') +
      ' = ' +
      esc(v) +
      '<br><small>' +
      esc(i.reason || '') +
      '</small></li>'
    );
  }
  function tenants() {
    api('/api/v1/tenants', true)
      .then(function (res) {
        return res.ok ? res.json() : { missing: true };
      })
      .then(function (body) {
        if (body.missing) {
          $('tenants').innerHTML = '<p class="empty">No data: reports are not set up in this daemon.</p>';
          return;
        }
        var list = body.tenants || [];
        $('tenants').innerHTML = list.length
          ? '<ul class="plain">' +
            list
              .map(function (t) {
                var base = '/api/v1/tenants/' + encodeURIComponent(t.id) + '/report?since=30d&format=';
                return (
                  '<li><b>' +
                  esc(t.id) +
                  '</b> <small>(' +
                  t.probes +
                  ' probes)</small><br>' +
                  '<a href="' +
                  base +
                  'html" data-report>HTML</a> · <a href="' +
                  base +
                  'pdf" data-report>PDF</a> · <a href="' +
                  base +
                  'json" data-report>JSON</a> <small>last 30 days</small></li>'
                );
              })
              .join('') +
            '</ul>'
          : '<p class="empty">No tenants: give probes a <code>tenant:</code> to get reports.</p>';
      })
      .catch(function (e) {
        $('tenants').innerHTML =
          e.message === 'not-readable' ? NOT_READABLE : '<p class="empty">Could not load tenants.</p>';
      });
  }

  function until(ms) {
    var s = Math.max(0, Math.round((ms - Date.now()) / 1000));
    return s < 60 ? s + 's' : s < 3600 ? Math.round(s / 60) + 'm' : Math.round(s / 3600) + 'h';
  }
  function maintenanceItem(w) {
    var end = Date.parse(w.endsAt);
    return (
      '<li class="window" data-window="' +
      w.id +
      '"><b>' +
      w.probes.map(esc).join(', ') +
      '</b>' +
      (w.reason ? ' · ' + esc(w.reason) : '') +
      '<br><small>window ' +
      w.id +
      ' · alerts held until ' +
      esc(new Date(end).toLocaleTimeString()) +
      ' (' +
      until(end) +
      ' left)</small></li>'
    );
  }
  function agentItem(a) {
    return (
      '<li><span class="sev ' +
      (a.live ? 'ok">live' : 'fail">down') +
      '</span><b>' +
      esc(a.name) +
      '</b> ' +
      esc(a.location) +
      (a.leader ? ' · leader' : '') +
      '<br><small>' +
      esc(a.host) +
      ' pid ' +
      esc(a.pid) +
      ' · v' +
      esc(a.version) +
      ' · config ' +
      esc(a.configHash.slice(0, 8)) +
      ' · ' +
      esc(a.probes) +
      ' probes · beat ' +
      ago(Date.parse(a.lastHeartbeat)) +
      '</small></li>'
    );
  }
  // A fleet's agents (admin only): the card stays hidden on a single daemon (404) and for other readers.
  function agents() {
    return api('/api/v1/agents', true)
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (body) {
        $('agents-card').hidden = !body;
        if (!body) return;
        $('agents').innerHTML =
          body.warnings
            .map(function (w) {
              return '<p class="warning">' + esc(w) + '</p>';
            })
            .join('') +
          '<ul class="plain">' +
          body.agents.map(agentItem).join('') +
          '</ul>';
      })
      .catch(function () {
        $('agents-card').hidden = true;
      });
  }
  // Windows started by `scaiprobe maintenance start` (or the API); configured ones are in the configuration.
  function maintenance() {
    return api('/api/v1/maintenance?active=true', true)
      .then(function (res) {
        return res.ok ? res.json() : { windows: [] };
      })
      .then(function (body) {
        windows = body.windows || [];
        $('maintenance').innerHTML = windows.length
          ? '<ul class="plain">' + windows.map(maintenanceItem).join('') + '</ul>'
          : '<p class="empty">None in force.</p>';
        rows.forEach(function (p) {
          var tr = document.querySelector('tr[data-probe="' + CSS.escape(p.probe) + '"]');
          if (tr) tr.outerHTML = rowHtml(p);
        });
      })
      .catch(function (e) {
        windows = [];
        $('maintenance').innerHTML =
          e.message === 'not-readable' ? NOT_READABLE : '<p class="empty">Could not load maintenance windows.</p>';
      });
  }

  function showLogin() {
    $('login').hidden = false;
    $('live').textContent = 'signed out';
    $('rows').innerHTML = '<tr><td colspan="5" class="empty">Waiting for the API token.</td></tr>';
    ['maintenance', 'alerts', 'indicators', 'tenants'].forEach(function (id) {
      $(id).innerHTML = '<p class="empty">Waiting for the API token.</p>';
    });
  }

  document.addEventListener('click', function (e) {
    var button = e.target.closest('#counts button');
    if (button) {
      view.status = button.dataset.status;
      view.offset = 0;
      load();
      return;
    }
    var link = e.target.closest('a[data-report]');
    if (link && token()) {
      // Links cannot carry the bearer header: fetch the report, then show it from memory.
      e.preventDefault();
      var win = window.open('', '_blank');
      api(link.getAttribute('href'))
        .then(function (res) {
          return res.blob();
        })
        .then(function (blob) {
          var url = URL.createObjectURL(blob);
          if (win) win.location.href = url;
          else location.href = url;
        });
    }
  });
  $('prev').onclick = function () {
    view.offset = Math.max(0, view.offset - PAGE_SIZE);
    load();
  };
  $('next').onclick = function () {
    view.offset += PAGE_SIZE;
    load();
  };
  var typing = null;
  $('search').oninput = function (e) {
    clearTimeout(typing);
    typing = setTimeout(function () {
      view.q = e.target.value.trim();
      view.offset = 0;
      load();
    }, 250);
  };
  $('login-form').onsubmit = function (e) {
    e.preventDefault();
    try {
      localStorage.setItem(TOKEN_KEY, $('token').value.trim());
    } catch (err) {
      /* private mode */
    }
    $('login').hidden = true;
    $('forget').hidden = !token();
    start();
  };
  $('forget').onclick = function () {
    try {
      localStorage.removeItem(TOKEN_KEY);
    } catch (err) {
      /* ignore */
    }
    location.reload();
  };
  // Windows start and end from a pipeline, not with a run: looked at every 15 s.
  setInterval(function () {
    if (started && $('login').hidden) {
      maintenance();
      agents();
    }
  }, 15000);
  setInterval(function () {
    document.querySelectorAll('td.when').forEach(function (td) {
      var at = td.dataset.at;
      if (at) td.firstChild.textContent = ago(Number(at));
    });
  }, 15000);

  $('forget').hidden = !token();
  var started = false;
  function start() {
    load().then(function () {
      if (!$('login').hidden) return;
      maintenance();
      agents();
      side(
        '/api/v1/alerts',
        'alerts',
        'alerts',
        'No data: alerting is not set up in this daemon.',
        alertItem,
        function (a) {
          return (a.status && a.status !== 'ok') || a.local;
        },
      );
      failedNotifications();
      side(
        '/api/v1/indicators',
        'indicators',
        'indicators',
        'No data: indicators are not set up in this daemon.',
        indicatorItem,
        function (i) {
          return i.state !== 'ok';
        },
      );
      tenants();
      if (!started) {
        started = true;
        listen();
      }
    });
  }
  start();
})();
