// API reference (/docs): renders the OpenAPI 3.1 document of /api/v1/openapi.json
// into #api-docs — operations grouped by tag, each a collapsible card with its
// parameters, request body, responses and schemas (refs resolved, recursion cut),
// a search box and a curl line. No framework, no CDN, no innerHTML: every string
// of the document reaches the page through textContent (CSP-safe, no injection).
(function () {
  'use strict';

  // Every string of the page, in Spanish and in English.
  var STRINGS = {
    loading: ['Cargando la referencia…', 'Loading the reference…'],
    failed: ['No se pudo cargar el documento', 'Could not load the document'],
    search: ['Buscar ruta, método o texto', 'Search path, method or text'],
    all: ['Todas', 'All'],
    params: ['Parámetros', 'Parameters'],
    body: ['Cuerpo de la petición', 'Request body'],
    responses: ['Respuestas', 'Responses'],
    name: ['Nombre', 'Name'],
    where: ['En', 'In'],
    type: ['Tipo', 'Type'],
    required: ['obligatorio', 'required'],
    description: ['Descripción', 'Description'],
    public: ['sin autenticación', 'no authentication'],
    auth: ['requiere sesión', 'needs a session or token'],
    example: ['Ejemplo', 'Example'],
    served: ['función', 'function'],
    none: ['Ninguna ruta coincide.', 'No route matches.'],
    seeAbove: ['ver arriba', 'see above'],
    oneOf: ['uno de', 'one of'],
    operations: ['operaciones', 'operations'],
    download: ['Descargar openapi.json', 'Download openapi.json']
  };
  // The strings of one language: English for 'en', Spanish otherwise.
  function textsFor(lang) {
    var i = lang === 'en' ? 1 : 0;
    var out = {};
    Object.keys(STRINGS).forEach(function (k) { out[k] = STRINGS[k][i]; });
    return out;
  }
  var METHOD_CLASS = { get: 'badge-info', post: 'badge-success', put: 'badge-warning', delete: 'badge-error', patch: 'badge-warning' };
  var METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
  var MAX_DEPTH = 6;

  var t = textsFor('es');

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }

  // Markdown, the little the document uses: paragraphs, `code` and **bold**.
  function prose(text, cls) {
    var box = el('div', cls || 'space-y-2 text-sm');
    String(text || '').split(/\n\s*\n/).forEach(function (para) {
      var p = el('p');
      var parts = para.replace(/\s*\n\s*/g, ' ').split(/(`[^`]+`|\*\*[^*]+\*\*)/);
      parts.forEach(function (part) {
        if (!part) return;
        if (part.charAt(0) === '`') {
          add(p, el('code', 'rounded bg-slate-100 px-1 py-0.5 text-[0.8em] dark:bg-slate-800', part.slice(1, -1)));
        } else if (part.indexOf('**') === 0) {
          add(p, el('strong', 'font-semibold', part.slice(2, -2)));
        } else {
          p.appendChild(document.createTextNode(part));
        }
      });
      box.appendChild(p);
    });
    return box;
  }

  function resolve(doc, node) {
    var seen = 0;
    while (node && node.$ref && seen < 20) {
      var target = doc;
      node.$ref.replace(/^#\//, '').split('/').forEach(function (k) {
        target = target ? target[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
      });
      node = target;
      seen++;
    }
    return node || {};
  }
  function refName(node) {
    return node && node.$ref ? node.$ref.split('/').pop() : null;
  }

  // A short type label: "string | null", "array of Line", "integer (1–200)".
  function typeLabel(doc, schema) {
    var name = refName(schema);
    var s = resolve(doc, schema);
    if (name && (s.type === 'object' || s.allOf || s.oneOf)) return name;
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.oneOf || s.anyOf) {
      return (s.oneOf || s.anyOf).map(function (x) { return typeLabel(doc, x); }).join(' | ');
    }
    if (s.allOf) return name || 'object';
    var types = Array.isArray(s.type) ? s.type : [s.type || (s.properties ? 'object' : 'any')];
    var label = types.map(function (ty) {
      if (ty === 'array') return 'array of ' + (s.items ? typeLabel(doc, s.items) : 'any');
      return ty;
    }).join(' | ');
    if (s.format) label += ' (' + s.format + ')';
    if (s.minimum !== undefined && s.maximum !== undefined) label += ' ' + s.minimum + '–' + s.maximum;
    else if (s.minimum !== undefined) label += ' ≥ ' + s.minimum;
    else if (s.maximum !== undefined) label += ' ≤ ' + s.maximum;
    return label;
  }

  function constraints(s) {
    var out = [];
    if (s.enum) out.push(s.enum.filter(function (v) { return v !== null; }).map(function (v) { return JSON.stringify(v); }).join(', '));
    if (s.default !== undefined) out.push('default ' + JSON.stringify(s.default));
    if (s.pattern) out.push('pattern ' + s.pattern);
    if (s.maxLength !== undefined) out.push('≤ ' + s.maxLength + ' chars');
    return out.join(' · ');
  }

  // Flattens allOf into one object schema (properties and required merged).
  function merged(doc, schema) {
    var s = resolve(doc, schema);
    if (!s.allOf) return s;
    var out = { type: 'object', properties: {}, required: [], description: s.description };
    s.allOf.forEach(function (part) {
      var p = merged(doc, part);
      Object.keys(p.properties || {}).forEach(function (k) { out.properties[k] = p.properties[k]; });
      (p.required || []).forEach(function (r) { out.required.push(r); });
      if (!out.description && p.description) out.description = p.description;
    });
    return out;
  }

  // A schema as a nested field list. `trail` holds the refs being expanded (recursion stop).
  function schemaTree(doc, schema, depth, trail) {
    var name = refName(schema);
    var s = merged(doc, schema);
    var box = el('div', 'space-y-1');
    if (name && trail.indexOf(name) >= 0) {
      return add(box, el('p', 'text-xs muted', name + ' (' + t.seeAbove + ')'));
    }
    trail = name ? trail.concat([name]) : trail;
    if (s.description && depth === 0) box.appendChild(prose(s.description, 'text-xs muted'));
    if (s.oneOf || s.anyOf) {
      add(box, el('p', 'text-xs font-medium', t.oneOf + ':'));
      (s.oneOf || s.anyOf).forEach(function (alt) {
        var item = el('div', 'ml-3 border-l border-slate-200 pl-3 dark:border-slate-700');
        add(item, el('p', 'text-xs font-mono', typeLabel(doc, alt)));
        if (depth < MAX_DEPTH) item.appendChild(schemaTree(doc, alt, depth + 1, trail));
        box.appendChild(item);
      });
      return box;
    }
    var items = s.items && (s.type === 'array' || (Array.isArray(s.type) && s.type.indexOf('array') >= 0));
    if (items) {
      var inner = merged(doc, s.items);
      if (inner.properties && depth < MAX_DEPTH) {
        add(box, el('p', 'text-xs muted', typeLabel(doc, s)));
        box.appendChild(schemaTree(doc, s.items, depth + 1, trail));
      }
      return box;
    }
    var props = s.properties || {};
    var keys = Object.keys(props);
    if (!keys.length) return box;
    var list = el('ul', 'space-y-1 text-sm');
    keys.forEach(function (key) {
      var prop = props[key];
      var ps = resolve(doc, prop);
      var li = el('li', 'ml-1');
      var head = el('div', 'flex flex-wrap items-baseline gap-x-2');
      add(head, el('code', 'font-mono text-[0.85em] font-semibold', key),
        el('span', 'font-mono text-xs text-primary', typeLabel(doc, prop)),
        (s.required || []).indexOf(key) >= 0 ? el('span', 'badge-neutral', t.required) : null,
        constraints(ps) ? el('span', 'text-xs muted', constraints(ps)) : null);
      li.appendChild(head);
      if (ps.description) li.appendChild(prose(ps.description, 'text-xs muted'));
      var sub = merged(doc, prop);
      var nested = sub.properties || sub.oneOf || sub.anyOf || (sub.items && merged(doc, sub.items).properties);
      if (nested && depth < MAX_DEPTH) {
        var child = schemaTree(doc, prop, depth + 1, trail);
        if (child.childNodes.length) {
          var wrap = el('div', 'ml-3 mt-1 border-l border-slate-200 pl-3 dark:border-slate-700');
          wrap.appendChild(child);
          li.appendChild(wrap);
        }
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function section(title, body) {
    var box = el('div', 'space-y-2');
    add(box, el('h4', 'text-xs font-semibold uppercase tracking-wide muted', title), body);
    return box;
  }

  function paramsTable(doc, params) {
    var wrap = el('div', 'table-wrap');
    var table = el('table', 'data-table');
    var head = el('tr');
    [t.name, t.where, t.type, t.description].forEach(function (h) { add(head, el('th', null, h)); });
    add(table, add(el('thead'), head));
    var body = el('tbody');
    params.forEach(function (raw) {
      var p = resolve(doc, raw);
      var tr = el('tr');
      var name = el('td');
      add(name, el('code', 'font-mono text-[0.85em] font-semibold', p.name));
      if (p.required) add(name, el('span', 'badge-neutral ml-2', t.required));
      var desc = el('td');
      if (p.description) desc.appendChild(prose(p.description, 'text-xs'));
      var extra = constraints(resolve(doc, p.schema || {}));
      if (extra) add(desc, el('p', 'text-xs muted', extra));
      add(tr, name, el('td', 'text-xs', p.in), el('td', 'font-mono text-xs', typeLabel(doc, p.schema || {})), desc);
      body.appendChild(tr);
    });
    add(table, body);
    return add(wrap, table);
  }

  function example(value) {
    var pre = el('pre', 'max-h-72 overflow-auto rounded-lg bg-slate-100 p-3 text-xs dark:bg-slate-900');
    pre.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    return pre;
  }

  function contentBlock(doc, content) {
    var box = el('div', 'space-y-2');
    Object.keys(content || {}).forEach(function (type) {
      var media = content[type];
      add(box, el('p', 'text-xs font-mono muted', type));
      if (media.schema) box.appendChild(schemaTree(doc, media.schema, 0, []));
      if (media.example !== undefined) {
        var d = el('details', 'text-xs');
        add(d, el('summary', 'cursor-pointer muted', t.example), example(media.example));
        box.appendChild(d);
      }
    });
    return box;
  }

  function responsesBlock(doc, responses) {
    var list = el('div', 'space-y-3');
    Object.keys(responses || {}).sort().forEach(function (status) {
      var r = resolve(doc, responses[status]);
      var item = el('div', 'rounded-lg border border-slate-200 p-3 dark:border-slate-700/60');
      var head = el('div', 'flex flex-wrap items-baseline gap-2');
      var cls = status.charAt(0) === '2' ? 'badge-success' : status.charAt(0) === '3' ? 'badge-info' : status.charAt(0) === '4' ? 'badge-warning' : 'badge-error';
      add(head, el('span', cls + ' font-mono', status), prose(r.description || '', 'text-sm'));
      item.appendChild(head);
      var headers = Object.keys(r.headers || {});
      if (headers.length) add(item, el('p', 'mt-1 text-xs muted', 'Headers: ' + headers.join(', ')));
      if (r.content && status.charAt(0) === '2') {
        var c = contentBlock(doc, r.content);
        c.className += ' mt-2';
        item.appendChild(c);
      }
      list.appendChild(item);
    });
    return list;
  }

  function isPublic(doc, op) {
    var sec = op.security !== undefined ? op.security : doc.security;
    return Array.isArray(sec) && sec.length === 0;
  }

  function curlLine(doc, method, path, op) {
    var origin = location.origin + (document.documentElement.getAttribute('data-base') || '');
    var parts = ['curl -s'];
    if (method !== 'get') parts.push('-X ' + method.toUpperCase());
    if (!isPublic(doc, op)) parts.push('-H "Authorization: Bearer $TOKEN"');
    if (op.requestBody) {
      var media = (resolve(doc, op.requestBody).content || {})['application/json'] || {};
      var body = media.example !== undefined ? JSON.stringify(media.example).replace(/'/g, "'\\''") : '{…}';
      parts.push("-H 'Content-Type: application/json' -d '" + body + "'");
    }
    parts.push("'" + origin + path + "'");
    return parts.join(' ');
  }

  function operationCard(doc, method, path, op) {
    var card = el('details', 'card group');
    card.id = op.operationId || (method + path).replace(/[^A-Za-z0-9]+/g, '-');
    card.setAttribute('data-search', (method + ' ' + path + ' ' + (op.summary || '') + ' ' + (op.description || '')).toLowerCase());
    var sum = el('summary', 'flex cursor-pointer flex-wrap items-center gap-3 px-4 py-3');
    add(sum,
      el('span', (METHOD_CLASS[method] || 'badge-neutral') + ' w-16 justify-center font-mono uppercase', method),
      el('code', 'font-mono text-sm font-semibold break-all', path),
      el('span', 'flex-1 text-sm muted', op.summary || ''),
      el('span', 'icon icon-sm ' + (isPublic(doc, op) ? 'state-none' : 'text-primary'), isPublic(doc, op) ? 'lock_open' : 'lock'));
    sum.lastChild.setAttribute('title', isPublic(doc, op) ? t.public : t.auth);
    sum.lastChild.setAttribute('aria-label', isPublic(doc, op) ? t.public : t.auth);
    card.appendChild(sum);
    var body = el('div', 'space-y-4 border-t border-slate-200 px-4 py-4 dark:border-slate-700/60');
    card.addEventListener('toggle', function () {
      if (!card.open || body.childNodes.length) return;
      if (op.description) body.appendChild(prose(op.description));
      var meta = el('p', 'text-xs muted');
      add(meta, document.createTextNode(t.served + ': '), el('code', 'font-mono', op['x-function'] || '?'),
        document.createTextNode(' · ' + (isPublic(doc, op) ? t.public : t.auth) + ' · operationId '), el('code', 'font-mono', op.operationId || ''));
      body.appendChild(meta);
      body.appendChild(example('$ ' + curlLine(doc, method, path, op)));
      if (op.parameters && op.parameters.length) body.appendChild(section(t.params, paramsTable(doc, op.parameters)));
      if (op.requestBody) {
        var rb = resolve(doc, op.requestBody);
        var rbBox = el('div', 'space-y-2');
        if (rb.description) rbBox.appendChild(prose(rb.description, 'text-xs muted'));
        rbBox.appendChild(contentBlock(doc, rb.content));
        body.appendChild(section(t.body + (rb.required ? ' (' + t.required + ')' : ''), rbBox));
      }
      body.appendChild(section(t.responses, responsesBlock(doc, op.responses)));
    });
    card.appendChild(body);
    return card;
  }

  function render(root, doc) {
    root.textContent = '';
    var info = doc.info || {};
    var intro = el('div', 'card card-body space-y-3');
    var titleRow = el('div', 'flex flex-wrap items-center justify-between gap-3');
    var title = el('div');
    add(title, el('h2', 'text-lg font-semibold', info.title || 'API'),
      el('p', 'text-xs muted', 'OpenAPI ' + (doc.openapi || '') + ' · v' + (info.version || '')));
    var link = el('a', 'btn-secondary btn-sm', t.download);
    link.href = root.getAttribute('data-src');
    link.setAttribute('download', 'openapi.json');
    add(titleRow, title, link);
    add(intro, titleRow, info.description ? prose(info.description) : null);
    root.appendChild(intro);

    var tags = (doc.tags || []).map(function (tg) { return tg.name; });
    var groups = {};
    Object.keys(doc.paths || {}).forEach(function (path) {
      var item = doc.paths[path];
      METHODS.forEach(function (m) {
        if (!item[m]) return;
        var tag = (item[m].tags && item[m].tags[0]) || 'default';
        if (tags.indexOf(tag) < 0) tags.push(tag);
        (groups[tag] = groups[tag] || []).push([m, path, item[m]]);
      });
    });

    var bar = el('div', 'no-print flex flex-wrap items-center gap-2');
    var search = el('input', 'input max-w-sm');
    search.type = 'search';
    search.placeholder = t.search;
    search.setAttribute('aria-label', t.search);
    var select = el('select', 'select max-w-xs');
    select.setAttribute('aria-label', 'Tag');
    add(select, el('option', null, t.all));
    select.firstChild.value = '';
    tags.forEach(function (tag) {
      if (!groups[tag]) return;
      var o = el('option', null, tag + ' (' + groups[tag].length + ')');
      o.value = tag;
      select.appendChild(o);
    });
    add(bar, search, select);
    root.appendChild(bar);

    var sections = [];
    tags.forEach(function (tag) {
      if (!groups[tag]) return;
      var meta = (doc.tags || []).filter(function (x) { return x.name === tag; })[0] || {};
      var sec = el('section', 'space-y-2');
      sec.setAttribute('data-tag', tag);
      var h = el('div', 'flex flex-wrap items-baseline gap-3 pt-2');
      add(h, el('h3', 'text-base font-semibold', tag), el('span', 'text-xs muted', groups[tag].length + ' ' + t.operations));
      sec.appendChild(h);
      if (meta.description) sec.appendChild(prose(meta.description, 'text-xs muted'));
      groups[tag].forEach(function (g) { sec.appendChild(operationCard(doc, g[0], g[1], g[2])); });
      root.appendChild(sec);
      sections.push(sec);
    });
    var empty = el('p', 'card card-body hidden text-sm muted', t.none);
    root.appendChild(empty);

    function filter() {
      var q = search.value.trim().toLowerCase();
      var tag = select.value;
      var shown = 0;
      sections.forEach(function (sec) {
        var visible = 0;
        Array.prototype.forEach.call(sec.querySelectorAll('details[data-search]'), function (card) {
          var hit = (!tag || sec.getAttribute('data-tag') === tag) && (!q || card.getAttribute('data-search').indexOf(q) >= 0);
          card.classList.toggle('hidden', !hit);
          if (hit) visible++;
        });
        sec.classList.toggle('hidden', visible === 0);
        shown += visible;
      });
      empty.classList.toggle('hidden', shown > 0);
    }
    search.addEventListener('input', filter);
    select.addEventListener('change', filter);

    var target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.tagName === 'DETAILS') {
      target.open = true;
      target.scrollIntoView();
    }
  }

  function start() {
    var root = document.getElementById('api-docs');
    if (!root) return;
    t = textsFor((document.documentElement.lang || 'es').slice(0, 2));
    var src = root.getAttribute('data-src') || '/api/v1/openapi.json';
    root.setAttribute('aria-busy', 'true');
    fetch(src, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (doc) {
        render(root, doc);
      })
      .catch(function (e) {
        root.textContent = '';
        add(root, el('div', 'card card-body state-bad text-sm', t.failed + ': ' + e.message));
      })
      .then(function () {
        root.removeAttribute('aria-busy');
      });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
