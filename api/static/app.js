// govspeech search page: plain ES module, no framework, no build step.
//
// The URL is the state. Every view (landing, results page, document view) is rendered
// from location.search, so results can be bookmarked and shared and back/forward works.
//
// Safety rule: text from the index is only ever inserted with textContent / text nodes.
// The one exception is the API's `highlighted` field (already HTML-escaped, with <mark>
// around matched terms), which is parsed inertly and accepted only if it holds nothing
// but bare <mark> elements.

const PAGE_SIZE = 10;
const FILTER_KEYS = ['year_from', 'year_to', 'region', 'speaker', 'doc_type'];
const MODES = {
  hybrid: { label: '混合', hint: '混合：兼顾政策术语与意思相近的表述' },
  dense: { label: '语义', hint: '语义：按意思查找，换个说法也能找到' },
  keyword: { label: '关键词', hint: '关键词：只看检索词是否出现，适合精确的政策术语' },
};
const EXAMPLES = ['成果转化 措施', '冰雪经济', '怎样帮助企业把科研成果用起来', '营商环境 优化', '就业 民生'];
const APP_NAME = '政务讲话检索';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const ui = {
  form: $('#search-form'),
  q: $('#q'),
  modeHint: $('#mode-hint'),
  selects: Object.fromEntries(FILTER_KEYS.map((key) => [key, $(`#${key}`)])),
  clearFilters: $('#clear-filters'),
  filtersToggle: $('#filters-toggle'),
  filtersCount: $('#filters-count'),
  main: $('#main'),
  summary: $('#summary'),
  error: $('#error'),
  landing: $('#landing'),
  examples: $('#landing .examples'),
  results: $('#results'),
  resultsTitle: $('#results-title'),
  hits: $('#hits'),
  empty: $('#empty'),
  pager: $('#pager'),
  docview: $('#docview'),
  status: $('#status'),
  trendToggle: $('#trend-toggle'),
  trend: $('#trend'),
  trendNote: $('#trend-note'),
  trendChart: $('#trend-chart'),
  trendYears: $('#trend-years'),
  compareToggle: $('#compare-toggle'),
  compare: $('#compare'),
  compareRows: $('#compare-rows'),
  exportCsv: $('#export-csv'),
  exportJsonl: $('#export-jsonl'),
  trendExport: $('#trend-export'),
  compareExport: $('#compare-export'),
  originToggle: $('#origin-toggle'),
  originForm: $('#origin-form'),
  originText: $('#origin-text'),
  originView: $('#origin-view'),
  originTitle: $('#origin-title'),
  originSummary: $('#origin-summary'),
  originExport: $('#origin-export'),
  originDocuments: $('#origin-documents'),
  originUndatedTitle: $('#origin-undated-title'),
  originUndated: $('#origin-undated'),
  originSentencesTitle: $('#origin-sentences-title'),
  originSentences: $('#origin-sentences'),
};

// ------------------------------------------------------------------ helpers

/** Create an element; string children become text nodes (never parsed as HTML). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat(Infinity).filter((c) => c != null && c !== false && c !== ''));
  return el;
}

/** Replace an element's children, skipping null/false (optional parts). */
function setChildren(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false && c !== ''));
}

/**
 * Show the API's `highlighted` passage. The template parse is inert (no scripts run, no
 * resources load); anything other than attribute-less <mark> elements falls back to text.
 */
function setHighlighted(el, html, plainText) {
  const template = document.createElement('template');
  template.innerHTML = html;
  const onlyMarks = [...template.content.querySelectorAll('*')].every(
    (node) => node.tagName === 'MARK' && node.attributes.length === 0,
  );
  if (onlyMarks) el.replaceChildren(template.content);
  else el.textContent = plainText;
}

const numberFormat = new Intl.NumberFormat('zh-CN');
const fmt = (n) => numberFormat.format(n);

class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON resource; non-2xx becomes an ApiError carrying the API's `detail`. */
async function api(path, { signal, json } = {}) {
  let response;
  try {
    const init = json === undefined
      ? { headers: { Accept: 'application/json' }, signal }
      : { method: 'POST', headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify(json), signal };
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(`无法连接检索服务（${err.message}）`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    let detail = body?.detail ?? response.statusText ?? '';
    if (typeof detail !== 'string') detail = JSON.stringify(detail);
    throw new ApiError(detail || '未知错误', response.status);
  }
  if (body === null) throw new ApiError('服务返回的内容不是 JSON', response.status);
  return body;
}

function errorText(err, what) {
  const code = err.status ? `（HTTP ${err.status}）` : '';
  return `${what}：${err.message}${code}`;
}

// ---------------------------------------------------------------- URL state

function readState(search = location.search) {
  const params = new URLSearchParams(search);
  const mode = params.get('mode');
  const page = Number.parseInt(params.get('page') ?? '1', 10);
  const filters = {};
  for (const key of FILTER_KEYS) {
    const value = (params.get(key) ?? (key === 'region' ? params.get('province') : null) ?? '').trim();
    if (value) filters[key] = value;
  }
  return {
    q: (params.get('q') ?? '').trim(),
    mode: Object.hasOwn(MODES, mode ?? '') ? mode : 'hybrid',
    filters,
    page: Number.isInteger(page) && page > 0 ? page : 1,
    doc: params.get('doc') ?? '',
    p: params.get('p') ?? '',
    literal: params.get('literal') === '1',
  };
}

function stateURL({ q = '', mode = 'hybrid', filters = {}, page = 1, doc = '', p = '', literal = false }) {
  const params = new URLSearchParams();
  if (q) {
    params.set('q', q);
    params.set('mode', mode);
    if (literal) params.set('literal', '1');
  }
  for (const key of FILTER_KEYS) if (filters[key]) params.set(key, filters[key]);
  if (q && page > 1) params.set('page', String(page));
  if (doc) params.set('doc', doc);
  if (doc && p) params.set('p', p);
  const query = params.toString();
  return query ? `/?${query}` : '/';
}

function searchPath(state) {
  const params = new URLSearchParams({
    q: state.q,
    mode: state.mode,
    k: String(PAGE_SIZE),
    offset: String((state.page - 1) * PAGE_SIZE),
  });
  for (const [key, value] of Object.entries(state.filters)) params.set(key, value);
  if (state.literal) params.set('parse', 'false');
  return `/search?${params}`;
}

const hasFilters = (state) => Object.keys(state.filters).length > 0;

// ------------------------------------------------------------------- routing

history.scrollRestoration = 'manual';
let inflight = null; // AbortController of the view being loaded
const searchCache = new Map(); // search URL -> response, for instant back/forward

/** Go to a new state (pushes a history entry) and render it. */
function navigate(state, { focusResults = false } = {}) {
  const url = stateURL(state);
  history.replaceState({ ...history.state, scrollY: window.scrollY }, '');
  if (url !== location.pathname + location.search) history.pushState({ scrollY: 0 }, '', url);
  render({ focusResults });
}

window.addEventListener('popstate', () => render({ restoring: true }));

async function render({ restoring = false, focusResults = false } = {}) {
  inflight?.abort();
  inflight = new AbortController();
  const { signal } = inflight;
  const state = readState();
  syncForm(state);
  hideError();
  ui.results.classList.remove('is-loading');
  ui.results.removeAttribute('aria-busy');
  ui.main.dataset.state = 'loading'; // 'ready' once the view is complete (tests wait on it)
  try {
    if (state.doc) await showDocument(state, signal, restoring);
    else if (state.q) await showSearch(state, signal, { restoring, focusResults });
    else showLanding();
  } catch (err) {
    if (err.name === 'AbortError') return;
    throw err;
  }
  if (!signal.aborted) ui.main.dataset.state = 'ready';
}

function showOnly(section) {
  for (const el of [ui.landing, ui.results, ui.docview, ui.originView]) el.hidden = el !== section;
}

function restoreScroll(restoring) {
  window.scrollTo(0, restoring ? (history.state?.scrollY ?? 0) : 0);
}

// ------------------------------------------------------------------ the form

let facetsLoaded = false;

function syncForm(state) {
  if (document.activeElement !== ui.q || ui.q.value.trim() !== state.q) ui.q.value = state.q;
  for (const radio of $$('input[name="mode"]', ui.form)) radio.checked = radio.value === state.mode;
  ui.modeHint.textContent = MODES[state.mode].hint;
  syncFilters(state);
  document.title = state.q ? `${state.q} - ${APP_NAME}` : APP_NAME;
}

// Filters only: facets arrive after start-up and must not wipe a query being typed.
function syncFilters(state) {
  for (const key of FILTER_KEYS) {
    const select = ui.selects[key];
    const value = state.filters[key] ?? '';
    if (value && ![...select.options].some((o) => o.value === value)) {
      // A value from a shared link that the index does not hold (or facets still loading):
      // keep it selected and visible rather than silently dropping the filter.
      select.append(h('option', { value }, facetsLoaded ? `${value}（索引中没有）` : value));
    }
    select.value = value;
  }
  updateClearButton();
}

function formState() {
  const filters = {};
  for (const key of FILTER_KEYS) {
    const value = ui.selects[key].value;
    if (value) filters[key] = value;
  }
  const mode = $('input[name="mode"]:checked', ui.form)?.value ?? 'hybrid';
  return { q: ui.q.value.trim(), mode, filters, page: 1 };
}

function updateClearButton() {
  const active = FILTER_KEYS.filter((key) => ui.selects[key].value).length;
  ui.clearFilters.disabled = active === 0;
  ui.filtersCount.textContent = active ? ` · ${active}` : '';
  ui.filtersCount.hidden = active === 0;
}

// On narrow screens the filters fold away behind a button (CSS shows it only there).
function setFiltersOpen(open) {
  ui.form.classList.toggle('filters-open', open);
  ui.filtersToggle.setAttribute('aria-expanded', String(open));
}
ui.filtersToggle.addEventListener('click', () => {
  setFiltersOpen(ui.filtersToggle.getAttribute('aria-expanded') !== 'true');
});

/** Search again with what the form now says (mode or a filter changed). */
function researchFromForm() {
  updateClearButton();
  const state = formState();
  ui.modeHint.textContent = MODES[state.mode].hint;
  if (state.q) navigate(state);
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const state = formState();
  if (!state.q) {
    ui.summary.textContent = '请输入要检索的词语或句子。';
    ui.q.focus();
    return;
  }
  navigate(state);
});

for (const radio of $$('input[name="mode"]', ui.form)) {
  radio.addEventListener('change', researchFromForm);
}

for (const key of FILTER_KEYS) {
  ui.selects[key].addEventListener('change', () => {
    const { year_from: from, year_to: to } = ui.selects;
    if (from.value && to.value && Number(from.value) > Number(to.value)) {
      // Keep the range sensible: move the other end to meet the one just changed.
      if (key === 'year_from') to.value = from.value;
      else from.value = to.value;
    }
    researchFromForm();
  });
}

function clearFilters() {
  for (const key of FILTER_KEYS) ui.selects[key].value = '';
  researchFromForm();
  ui.q.focus();
}
ui.clearFilters.addEventListener('click', clearFilters);

// "/" jumps to the search box, as on most search sites.
document.addEventListener('keydown', (event) => {
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  const tag = document.activeElement?.tagName;
  if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(tag)) return;
  event.preventDefault();
  ui.q.focus();
  ui.q.select();
});

// Same-page links (results, paging, document view) navigate without reloading.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-nav]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname !== '/') return;
  event.preventDefault();
  navigate(readState(url.search), { focusResults: link.hasAttribute('data-focus-results') });
});

async function loadFacets() {
  let facets;
  try {
    facets = await api('/facets');
  } catch {
    return; // the status line reports an unavailable index
  }
  const years = (facets.year ?? []).map((f) => f.value).sort((a, b) => a - b);
  const fill = (key, items, label) => {
    const select = ui.selects[key];
    const keep = select.options[0];
    select.replaceChildren(keep, ...items.map((item) => h('option', { value: item.value }, label(item))));
  };
  fill('year_from', years.map((value) => ({ value })), (item) => `${item.value}年`);
  fill('year_to', [...years].reverse().map((value) => ({ value })), (item) => `${item.value}年`);
  const counted = (item) => `${item.value}（${fmt(item.count)}篇）`;
  fill('region', facets.region ?? [], counted);
  fill('speaker', facets.speaker ?? [], counted);
  fill('doc_type', facets.doc_type ?? [], counted);
  facetsLoaded = true;
  document.documentElement.dataset.facets = 'loaded';
  syncFilters(readState());
}

let servedVersion = null;

async function loadStats() {
  try {
    const stats = await api('/stats');
    servedVersion = stats.version;
    // the manifest's model fingerprint names the model as `model` (`name` also accepted)
    const model =
      typeof stats.model === 'string' ? stats.model : (stats.model?.name ?? stats.model?.model ?? '未知');
    ui.status.replaceChildren(
      h('span', {}, `索引版本 ${stats.version}`),
      h('span', {}, `${fmt(stats.documents)} 篇文档`),
      h('span', {}, `${fmt(stats.passages)} 个段落`),
      h('span', {}, `模型 ${model}`),
    );
    ui.status.classList.remove('status-bad');
  } catch (err) {
    ui.status.textContent = errorText(err, '索引不可用');
    ui.status.classList.add('status-bad');
  }
}

// ------------------------------------------------------------------ messages

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

/** A view could not load: clear it and say why (a superseded request just stops). */
function showFailure(err, what) {
  if (err.name === 'AbortError') throw err;
  showOnly(null);
  ui.summary.textContent = '';
  showError(errorText(err, what));
}

// ------------------------------------------------------------------- landing

function showLanding() {
  showOnly(ui.landing);
  ui.summary.textContent = '';
  if (!ui.examples.childElementCount) {
    ui.examples.append(
      ...EXAMPLES.map((example) =>
        h('li', {}, h('a', { href: stateURL({ q: example }), 'data-nav': true }, example)),
      ),
    );
  }
  restoreScroll(false);
}

// -------------------------------------------------------------------- search

async function showSearch(state, signal, { restoring, focusResults }) {
  const path = searchPath(state);
  let body = restoring ? searchCache.get(path) : undefined;
  if (!body) {
    ui.summary.textContent = '正在检索…';
    ui.results.setAttribute('aria-busy', 'true');
    ui.results.classList.add('is-loading');
    try {
      body = await api(path, { signal });
    } catch (err) {
      showFailure(err, '检索失败');
      return;
    } finally {
      if (!signal.aborted) {
        ui.results.removeAttribute('aria-busy');
        ui.results.classList.remove('is-loading');
      }
    }
    searchCache.set(path, body);
    if (searchCache.size > 30) searchCache.delete(searchCache.keys().next().value);
  }
  renderResults(state, body);
  showOnly(ui.results);
  restoreScroll(restoring);
  if (focusResults) ui.resultsTitle.focus({ preventScroll: true });
  if (servedVersion && body.version !== servedVersion) loadStats(); // the index was updated
}

function renderResults(state, body) {
  const { hits, total } = body;
  const took = `用时 ${fmt(Math.round(body.took_ms))} 毫秒`;
  const from = body.offset + 1;
  const to = body.offset + hits.length;
  setChildren(
    ui.summary,
    hits.length
      ? h(
          'span',
          { class: 'summary-count' },
          `${countText(body)}，第 ${fmt(from)}–${fmt(to)} 条`,
        )
      : h('span', { class: 'summary-count' }, '没有结果'),
    h('span', { class: 'summary-took', id: 'took' }, took),
    relatedTerms(body.feedback_terms),
    understoodChips(state, body),
  );
  renderResearchBar(state);
  ui.hits.replaceChildren(...hits.map((hit) => hitCard(hit, state)));
  ui.hits.start = from;
  ui.hits.hidden = hits.length === 0;
  renderEmpty(state, body);
  renderPager(state, Math.min(total, body.ranked ?? total));
}

/** How many passages match: exact when known, "more than" when the ranking is all there is. */
function countText(body) {
  const ranked = body.ranked ?? body.total;
  if (!body.total_capped) return `共 ${fmt(body.total)} 条段落`;
  if (body.total > ranked) return `共 ${fmt(body.total)} 条段落（可浏览最相关的 ${fmt(ranked)} 条）`;
  return `超过 ${fmt(body.total)} 条段落（显示最相关的 ${fmt(ranked)} 条）`;
}

const UNDERSTOOD_LABELS = {
  year: '年份', year_from: '起始年份', year_to: '截止年份', region: '地区', speaker: '讲话人', doc_type: '类型',
};

// Filters the service read from the query's words: one chip each, whose × searches again
// without that word; "按原文检索" searches every word as typed.
function understoodChips(state, body) {
  const read = body.understood ?? [];
  if (!read.length) return null;
  const without = (gone) => {
    const texts = [...new Set(read.filter((u) => u !== gone).map((u) => u.text))];
    return stateURL({ ...state, q: [...texts, body.searched].join(' '), page: 1 });
  };
  return h(
    'span',
    { class: 'summary-understood', id: 'understood' },
    '已从查询词读出：',
    read.map((u) =>
      h(
        'span',
        { class: 'chip', dataset: { field: u.field } },
        `${UNDERSTOOD_LABELS[u.field] ?? u.field} ${u.value}${u.boost ? '（优先，不筛除）' : ''}`,
        h('a', { href: without(u), class: 'chip-remove', 'data-nav': true, 'aria-label': `去掉${u.text}`, title: `去掉“${u.text}”再检索` }, '×'),
      ),
    ),
    h('a', { href: stateURL({ ...state, page: 1, literal: true }), class: 'chip-literal', 'data-nav': true }, '按原文检索'),
  );
}

// Hybrid mode also searched for words of the best semantic matches: say which, so a
// passage that shares no word with the query shows why it is there.
function relatedTerms(terms) {
  if (!terms || !terms.length) return null;
  return h(
    'span',
    { class: 'summary-related', id: 'related', title: '语义最接近的段落里的关键词，也参与了关键词检索' },
    `同时检索：${terms.slice(0, 6).join('、')}`,
  );
}

function renderEmpty(state, body) {
  if (body.hits.length) {
    ui.empty.hidden = true;
    ui.empty.replaceChildren();
    return;
  }
  let advice;
  if (body.total > 0) {
    advice = h('p', {}, '这一页已超出结果范围。', h('a', { href: stateURL({ ...state, page: 1 }), 'data-nav': true }, '回到第 1 页'));
  } else if (hasFilters(state)) {
    advice = h(
      'p',
      {},
      '当前的筛选条件下没有匹配的段落。试试',
      h('button', { type: 'button', class: 'btn-link', onclick: clearFilters }, '清除筛选'),
      '，或放宽年份、地区等条件。',
    );
  } else {
    advice = h('p', {}, '换个说法试试，或切换到“语义”模式，按意思而不是字面查找。');
  }
  setChildren(
    ui.empty,
    h('p', { class: 'empty-title' }, '没有找到匹配的段落'),
    advice,
    body.message ? h('p', { class: 'api-message' }, `服务提示：${body.message}`) : null,
  );
  ui.empty.hidden = false;
}

function renderPager(state, total) {
  const pages = Math.ceil(total / PAGE_SIZE); // total is the same on every page of a query
  if (pages <= 1 && state.page <= 1) {
    ui.pager.hidden = true;
    ui.pager.replaceChildren();
    return;
  }
  const link = (page, text, rel) =>
    h('a', { href: stateURL({ ...state, page }), rel, class: 'pager-link', 'data-nav': true, 'data-focus-results': true }, text);
  const off = (text) => h('span', { class: 'pager-link is-disabled', 'aria-disabled': 'true' }, text);
  setChildren(
    ui.pager,
    state.page > 1 ? link(state.page - 1, '‹ 上一页', 'prev') : off('‹ 上一页'),
    h('span', { class: 'pager-status', 'aria-current': 'page' }, `第 ${state.page} / ${Math.max(pages, 1)} 页`),
    state.page < pages ? link(state.page + 1, '下一页 ›', 'next') : off('下一页 ›'),
  );
  ui.pager.hidden = false;
}

function metaLine(doc, tag = 'p') {
  const parts = [
    ['date', doc.date ?? (doc.year != null ? `${doc.year}年` : null), '日期'],
    ['speaker', doc.speaker, '讲话人'],
    ['region', doc.region, '地区'],
    ['type', doc.doc_type, '文档类型'],
  ].filter(([, value]) => value);
  return h(
    tag,
    { class: 'meta' },
    parts.map(([name, value, label]) =>
      h(
        'span',
        { class: `meta-item meta-${name}` },
        h('span', { class: 'visually-hidden' }, `${label}：`),
        h('span', { class: 'value' }, String(value)),
      ),
    ),
  );
}

function breadcrumb(section) {
  const parts = (section ?? '').split(' > ').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) return null;
  return h('nav', { class: 'crumbs', 'aria-label': '所在章节' }, h('ol', {}, parts.map((part) => h('li', {}, part))));
}

function scoreDetail(hit) {
  const parts = [`综合得分 ${hit.score.toFixed(3)}`];
  if (hit.keyword_score != null) parts.push(`关键词 ${hit.keyword_score.toFixed(3)}`);
  if (hit.dense_score != null) parts.push(`语义 ${hit.dense_score.toFixed(3)}`);
  return parts.join(' · ');
}

function docLink(state, docId, passageId) {
  return stateURL({ ...state, doc: docId, p: passageId });
}

function hitCard(hit, state) {
  const doc = hit.document;
  const key = `hit-${hit.rank}`;
  const href = docLink(state, doc.doc_id, hit.passage_id);

  const passage = h('p', { class: 'passage', id: `${key}-text` });
  setHighlighted(passage, hit.highlighted, hit.text);

  const before = h('div', { class: 'context context-before', id: `${key}-before`, hidden: true });
  const after = h('div', { class: 'context context-after', id: `${key}-after`, hidden: true });
  const toggle = h(
    'button',
    { type: 'button', class: 'btn-quiet btn-context', 'aria-expanded': 'false', 'aria-controls': `${key}-before ${key}-after` },
    '展开上下文',
  );
  const card = h(
    'li',
    { class: 'hit', dataset: { passageId: hit.passage_id, rank: hit.rank } },
    h(
      'article',
      { 'aria-labelledby': `${key}-title` },
      h(
        'header',
        { class: 'hit-head' },
        h('span', { class: 'rank', 'aria-hidden': 'true' }, String(hit.rank)),
        h('h3', { class: 'hit-title', id: `${key}-title` }, h('a', { href, 'data-nav': true }, doc.title)),
      ),
      h(
        'div',
        { class: 'hit-sub' },
        metaLine(doc),
        h(
          'span',
          { class: 'score', title: scoreDetail(hit) },
          h('span', { class: 'visually-hidden' }, `${scoreDetail(hit)}；`),
          h('span', { 'aria-hidden': 'true' }, `相关度 ${hit.score.toFixed(2)}`),
        ),
      ),
      breadcrumb(hit.section),
      h('div', { class: 'passage-block' }, before, passage, after),
      h(
        'div',
        { class: 'hit-actions' },
        toggle,
        h('a', { href, class: 'btn-quiet', 'data-nav': true }, '在全文中查看'),
        similarButton(hit, state),
        copyButton(hit),
        duplicates(hit, state),
      ),
    ),
  );
  toggle.addEventListener('click', () => toggleContext(hit, toggle, before, after, card));
  return card;
}

function duplicates(hit, state) {
  const n = hit.duplicates?.length ?? 0;
  if (!n) return null;
  return h(
    'details',
    { class: 'dupes' },
    h('summary', {}, `另有${n}处相同段落`),
    h(
      'ul',
      {},
      hit.duplicates.map((d) => h('li', {}, h('a', { href: docLink(state, d.doc_id, d.passage_id), 'data-nav': true }, d.title))),
    ),
  );
}

function contextParagraph(passage, hitSection) {
  return h(
    'div',
    { class: 'context-passage', dataset: { passageId: passage.passage_id } },
    passage.section && passage.section !== hitSection ? breadcrumb(passage.section) : null,
    h('p', {}, passage.text),
  );
}

async function toggleContext(hit, button, before, after, card) {
  if (button.getAttribute('aria-busy') === 'true') return;
  const open = button.getAttribute('aria-expanded') === 'true';
  if (open) {
    before.hidden = true;
    after.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.textContent = '展开上下文';
    return;
  }
  if (!card.dataset.contextLoaded) {
    button.setAttribute('aria-busy', 'true');
    button.textContent = '正在载入…';
    $('.inline-error', card)?.remove();
    try {
      const detail = await api(`/passages/${encodeURIComponent(hit.passage_id)}?context=2`);
      const edge = (text) => h('p', { class: 'context-edge' }, text);
      const paragraphs = (list) => list.map((p) => contextParagraph(p, hit.section));
      before.replaceChildren(...(detail.before.length ? paragraphs(detail.before) : [edge('（文档开头）')]));
      after.replaceChildren(...(detail.after.length ? paragraphs(detail.after) : [edge('（文档结尾）')]));
      card.dataset.contextLoaded = '1';
    } catch (err) {
      button.textContent = '展开上下文';
      $('.hit-actions', card).after(h('p', { class: 'inline-error', role: 'alert' }, errorText(err, '无法载入上下文')));
      return;
    } finally {
      button.removeAttribute('aria-busy');
    }
  }
  before.hidden = false;
  after.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  button.textContent = '收起上下文';
}

// ------------------------------------------------------------- document view

async function showDocument(state, signal, restoring) {
  ui.summary.textContent = '正在打开文档…';
  let detail;
  try {
    detail = await api(`/documents/${encodeURIComponent(state.doc)}`, { signal });
  } catch (err) {
    showFailure(err, '无法打开文档');
    return;
  }
  const doc = detail.document;
  document.title = `${doc.title} - ${APP_NAME}`;
  ui.summary.textContent = '';

  const back = state.q
    ? h('a', { href: stateURL({ ...state, doc: '', p: '' }), class: 'back', 'data-nav': true }, '‹ 返回检索结果')
    : h('a', { href: '/', class: 'back', 'data-nav': true }, '‹ 返回首页');
  const source =
    doc.url && /^https?:\/\//i.test(doc.url)
      ? h('p', { class: 'doc-source' }, '原文：', h('a', { href: doc.url, rel: 'noopener noreferrer', target: '_blank' }, doc.url))
      : null;

  const body = h('div', { class: 'doc-body' });
  let previous = [];
  let target = null;
  for (const passage of detail.passages) {
    const parts = (passage.section ?? '').split(' > ').map((s) => s.trim()).filter(Boolean);
    let same = 0;
    while (same < parts.length && same < previous.length && parts[same] === previous[same]) same += 1;
    for (let level = same; level < parts.length; level += 1) {
      body.append(h(`h${Math.min(3 + level, 6)}`, { class: `doc-section level-${level + 1}` }, parts[level]));
    }
    previous = parts;
    const isTarget = passage.passage_id === state.p;
    const para = h(
      'p',
      { class: isTarget ? 'doc-passage is-target' : 'doc-passage', dataset: { passageId: passage.passage_id }, tabindex: isTarget ? '-1' : null },
      isTarget ? h('span', { class: 'target-badge' }, '检索命中段落') : null,
      passage.text,
    );
    if (isTarget) target = para;
    body.append(para);
  }

  setChildren(
    ui.docview,
    h(
      'header',
      { class: 'doc-head' },
      back,
      h('h2', { id: 'doc-title', tabindex: '-1' }, doc.title),
      metaLine(doc),
      source,
      h('p', { class: 'doc-count' }, `全文共 ${fmt(detail.passages.length)} 段`),
    ),
    state.p && !target ? h('p', { class: 'notice', role: 'status' }, '要定位的段落不在这份文档的当前版本中，下面显示全文。') : null,
    body,
  );
  showOnly(ui.docview);
  if (restoring && history.state?.scrollY) {
    window.scrollTo(0, history.state.scrollY);
  } else if (target) {
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
  } else {
    window.scrollTo(0, 0);
    $('#doc-title').focus({ preventScroll: true });
  }
}

// ---------------------------------------------------------------------- start

setFiltersOpen(hasFilters(readState()));
loadStats();
loadFacets();
render({ restoring: true });

// ------------------------------------------------------------ research tools

/** The query's filters as API parameters; years dropped where a timeline needs them all. */
function researchParams(state, { keepYears = true } = {}) {
  const params = new URLSearchParams({ q: state.q });
  for (const [key, value] of Object.entries(state.filters)) {
    if (keepYears || !key.startsWith('year')) params.set(key, value);
  }
  return params;
}

function renderResearchBar(state) {
  const search = researchParams(state);
  search.set('mode', state.mode);
  for (const [link, format] of [[ui.exportCsv, 'csv'], [ui.exportJsonl, 'jsonl']]) {
    search.set('format', format);
    link.href = `/export/search?${search}`;
  }
  // the timeline ignores the year filters (a click on a year sets them), so it stays open
  const keys = [
    [ui.trendToggle, ui.trend, researchParams(state, { keepYears: false }).toString()],
    [ui.compareToggle, ui.compare, researchParams(state).toString()],
  ];
  for (const [toggle, panel, key] of keys) {
    if (panel.dataset.key !== key) closePanel(toggle, panel);
    panel.dataset.key = key;
  }
}

function closePanel(toggle, panel) {
  toggle.setAttribute('aria-expanded', 'false');
  panel.hidden = true;
  panel.dataset.loaded = '';
}

async function togglePanel(toggle, panel, load) {
  const open = toggle.getAttribute('aria-expanded') !== 'true';
  toggle.setAttribute('aria-expanded', String(open));
  panel.hidden = !open;
  if (!open || panel.dataset.loaded === panel.dataset.key) return;
  ui.main.dataset.state = 'loading';
  try {
    await load(readState());
    panel.dataset.loaded = panel.dataset.key;
  } catch (err) {
    showFailure(err, '加载失败');
  } finally {
    ui.main.dataset.state = 'ready';
  }
}

ui.trendToggle.addEventListener('click', () => togglePanel(ui.trendToggle, ui.trend, showTrend));

// ------------------------------------------------------------------ origin

const MATCH_LABELS = { exact: '原文', near: '近似', reworded: '改写' };
let originRequest = null; // the last origin asked, for its export

ui.originToggle.addEventListener('click', () => {
  const open = ui.originForm.hidden;
  ui.originForm.hidden = !open;
  ui.originToggle.setAttribute('aria-expanded', String(open));
  if (open) ui.originText.focus();
});

/** The form's filters as the API's JSON filters (years are numbers there). */
function bodyFilters(filters) {
  const out = {};
  for (const [key, value] of Object.entries(filters)) out[key] = key.startsWith('year') ? Number(value) : value;
  return out;
}

ui.originForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = ui.originText.value.trim();
  if (!text) {
    ui.summary.textContent = '请粘贴要查出处的一句话或一段话。';
    ui.originText.focus();
    return;
  }
  inflight?.abort();
  hideError();
  originRequest = { text, filters: bodyFilters(formState().filters) };
  ui.summary.textContent = '正在查出处…';
  ui.main.dataset.state = 'loading';
  try {
    renderOrigin(readState(), await api('/origin', { json: originRequest }));
    showOnly(ui.originView);
    ui.originTitle.focus({ preventScroll: true });
  } catch (err) {
    showError(errorText(err, '查出处失败'));
    ui.summary.textContent = '';
  } finally {
    ui.main.dataset.state = 'ready';
  }
});

function originItem(state, doc) {
  const d = doc.document;
  const text = h('p', { class: 'passage' });
  setHighlighted(text, doc.hit.highlighted, doc.hit.text);
  return h(
    'li',
    { class: 'origin-doc', dataset: { match: doc.match, docId: d.doc_id } },
    h('span', { class: 'origin-date' }, d.date ?? (d.year != null ? `${d.year}年` : '日期不详')),
    h('span', { class: `badge badge-${doc.match}` }, MATCH_LABELS[doc.match]),
    h('a', { href: docLink(state, d.doc_id, doc.hit.passage_id), 'data-nav': true }, d.title),
    d.speaker ? h('span', { class: 'origin-speaker' }, d.speaker) : null,
    text,
  );
}

function renderOrigin(state, body) {
  ui.summary.textContent = `用时 ${fmt(Math.round(body.took_ms))} 毫秒`;
  ui.originSummary.textContent = body.message ?? originSummary(body);
  setChildren(ui.originDocuments, body.documents.map((doc) => originItem(state, doc)));
  ui.originUndated.hidden = ui.originUndatedTitle.hidden = body.undated.length === 0;
  setChildren(ui.originUndated, body.undated.map((doc) => originItem(state, doc)));
  const several = body.sentences.length > 1;
  ui.originSentences.hidden = ui.originSentencesTitle.hidden = !several;
  setChildren(
    ui.originSentences,
    several
      ? body.sentences.map((s) =>
          h(
            'li',
            { class: s.documents ? 'sentence-found' : 'sentence-new' },
            h('span', { class: 'sentence-status' }, s.first ? `最早见于 ${s.first.date ?? s.first.year ?? ''}《${s.first.title}》` : s.documents ? '仅见于未注明日期的文件' : '新提法'),
            s.text,
          ),
        )
      : [],
  );
}

function originSummary(body) {
  if (!body.first) return body.undated.length ? `只有 ${body.undated.length} 份未注明日期的文件有此表述` : '没有文件这样说过';
  const d = body.first.document;
  const who = [d.date ?? d.year, d.speaker].filter(Boolean).join('，');
  const later = body.later ? `此后 ${fmt(body.later)} 份文件重复` : '此后没有文件重复';
  return `最早见于《${d.title}》（${who}，${MATCH_LABELS[body.first.match]}）；${later}。`;
}

ui.originExport.addEventListener('click', async () => {
  if (!originRequest) return;
  const response = await fetch('/export/origin', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...originRequest, format: 'csv' }),
  });
  if (!response.ok) return showError(`导出失败（HTTP ${response.status}）`);
  const link = h('a', { href: URL.createObjectURL(await response.blob()), download: 'govspeech-origin.csv' });
  link.click();
  URL.revokeObjectURL(link.href);
});
ui.compareToggle.addEventListener('click', () => togglePanel(ui.compareToggle, ui.compare, showCompare));

let echartsLoading = null;

/** Apache ECharts, served by this service (vendor/echarts), loaded the first time a chart is shown. */
function loadECharts() {
  echartsLoading ??= new Promise((resolve, reject) => {
    const script = h('script', { src: '/static/vendor/echarts/echarts.common.min.js' });
    script.addEventListener('load', () => resolve(window.echarts));
    script.addEventListener('error', () => {
      echartsLoading = null;
      reject(new ApiError('图表组件加载失败'));
    });
    document.head.append(script);
  });
  return echartsLoading;
}

/** ``state`` narrowed to one year, first page. */
function inYear(state, year) {
  return { ...state, filters: { ...state.filters, year_from: String(year), year_to: String(year) }, page: 1 };
}

async function showTrend(state) {
  const params = researchParams(state, { keepYears: false });
  ui.trendExport.href = `/export/trends?${params}&format=csv`;
  const body = await api(`/trends?${params}`);
  const years = body.groups.filter((g) => g.key != null);
  ui.trendNote.textContent = body.passages
    ? `共 ${fmt(body.passages)} 段、${fmt(body.documents)} 篇文件原文含“${body.terms.join('”“')}”。点击柱子或年份只看该年。`
    : body.message ?? '没有段落含这些词语';
  ui.trendChart.dataset.years = String(years.length);
  const missing = years.filter((g) => g.missing).length;
  setChildren(
    ui.trendYears,
    years.filter((g) => g.passages).map((g) =>
      h('li', {}, h('a', { href: stateURL(inYear(state, g.key)), 'data-nav': true, 'data-year': g.key }, `${g.key}年 ${fmt(g.passages)}段`)),
    ),
    missing ? h('li', { class: 'missing' }, `${missing} 个年份档案中没有文件（图中灰色）`) : null,
    // documents without a date are counted apart, never as a year among the years
    body.unrecorded
      ? h('li', { class: 'undated' }, `未注明日期：${fmt(body.unrecorded.documents_total)} 篇文件（其中 ${fmt(body.unrecorded.passages ?? 0)} 段含这些词语），不计入图中`)
      : null,
  );
  const echarts = await loadECharts();
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const chart = echarts.getInstanceByDom(ui.trendChart) ?? echarts.init(ui.trendChart, null, { renderer: 'canvas' });
  chart.setOption(
    {
      animation: false,
      grid: { left: 40, right: 16, top: 16, bottom: 28 },
      tooltip: {
        trigger: 'axis',
        renderMode: 'richText', // drawn on the canvas: the page allows no inline styles
        formatter: (items) => {
          const g = years[items[0].dataIndex];
          if (g.missing) return `${g.key}年\n档案中没有该年的文件`;
          return `${g.key}年\n${g.documents} 篇文件 · ${g.passages} 段\n每10万字 ${g.per_100k_chars ?? 0} 段 · 高分 ${g.scored} 段`;
        },
      },
      xAxis: { type: 'category', data: years.map((g) => String(g.key)), axisLabel: { color: color('--muted') } },
      yAxis: { type: 'value', minInterval: 1, axisLabel: { color: color('--muted') } },
      series: [
        {
          type: 'bar',
          name: '段落',
          data: years.map((g) =>
            g.missing ? null : g.passages,
          ),
          itemStyle: { color: color('--accent') },
          barMaxWidth: 18,
          // years without any document: shaded, so they read as "no report", not as zero
          markArea: {
            silent: true,
            itemStyle: { color: color('--border'), opacity: 0.6 },
            data: years.filter((g) => g.missing).map((g) => [{ xAxis: String(g.key) }, { xAxis: String(g.key) }]),
          },
        },
      ],
    },
    true,
  );
  chart.off('click');
  chart.on('click', (params) => {
    const g = years[params.dataIndex];
    if (!g.missing) navigate(inYear(readState(), g.key));
  });
  chart.resize();
}

async function showCompare(state) {
  const params = researchParams(state);
  params.set('by', 'region');
  ui.compareExport.href = `/export/compare?${params}&format=csv`;
  const body = await api(`/compare?${params}`);
  setChildren(
    ui.compareRows,
    body.rows.length ? null : h('li', {}, body.message ?? '没有可对比的地区'),
    [...body.rows, ...(body.unrecorded ? [body.unrecorded] : [])].map((row) => {
      if (!row.hit) return h('li', { class: 'silent', dataset: { region: row.label } }, h('span', { class: 'compare-label' }, row.label), '未提及');
      const text = h('p', { class: 'passage' });
      setHighlighted(text, row.hit.highlighted, row.hit.text);
      return h(
        'li',
        { dataset: { region: row.label } },
        h('span', { class: 'compare-label' }, row.label),
        h('a', { href: docLink(state, row.hit.document.doc_id, row.hit.passage_id), 'data-nav': true }, row.hit.document.title),
        breadcrumb(row.hit.section),
        text,
      );
    }),
  );
}

function similarButton(hit, state) {
  const button = h('button', { type: 'button', class: 'btn-quiet btn-similar', 'aria-expanded': 'false' }, '相似段落');
  button.addEventListener('click', async () => {
    const card = button.closest('article');
    let panel = $('.similar', card);
    if (panel) {
      panel.hidden = !panel.hidden;
      button.setAttribute('aria-expanded', String(!panel.hidden));
      return;
    }
    panel = h('section', { class: 'similar', 'aria-label': '其他文件中的相似段落' }, h('p', { class: 'research-note' }, '正在查找…'));
    card.append(panel);
    button.setAttribute('aria-expanded', 'true');
    try {
      const body = await api(`/passages/${encodeURIComponent(hit.passage_id)}/similar?k=5`);
      setChildren(
        panel,
        h('p', { class: 'research-note' }, body.hits.length ? '其他文件里说法相同或相近的段落：' : '其他文件里没有相近的段落。'),
        h('ol', {}, body.hits.map((x) => h('li', {}, h('a', { href: docLink(state, x.document.doc_id, x.passage_id), 'data-nav': true }, x.document.title), ` ${x.score.toFixed(2)}：`, x.text))),
      );
    } catch (err) {
      setChildren(panel, h('p', { class: 'api-message' }, errorText(err, '查找失败')));
    }
  });
  return button;
}

function copyButton(hit) {
  const button = h('button', { type: 'button', class: 'btn-quiet btn-cite', title: hit.citation }, '复制引用');
  button.addEventListener('click', async () => {
    let done = false;
    try {
      await navigator.clipboard.writeText(hit.citation);
      done = true;
    } catch {
      done = false; // no clipboard access (plain http elsewhere than localhost): show it instead
    }
    const note = h('span', { class: 'copied', role: 'status' }, done ? '已复制' : hit.citation);
    button.after(note);
    setTimeout(() => note.remove(), done ? 2000 : 15000);
  });
  return button;
}
