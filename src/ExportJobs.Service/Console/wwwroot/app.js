// The operations console: plain modules, no build step, no dependency. It calls the API with the user's own
// credentials, kept in this tab's sessionStorage only, and writes every value it shows as text, never as markup.
const API = '/data/core/ups/';
const RUNNING = ['NEW', 'PROCESSING', 'CANCELLING'];
const STATUSES = ['NEW', 'PROCESSING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const session = window.sessionStorage;
const $ = (id) => document.getElementById(id);
let poll = null;

/** An element with attributes (on… are listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Appends the children to a parent as h() does: flattened, without the absent ones. */
const add = (parent, ...children) => parent.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));

const svg = (tag, attrs = {}, ...children) => {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  for (const child of children.flat()) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
};

const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '—');
const say = (text) => { $('status').textContent = text; if (text) setTimeout(() => { if ($('status').textContent === text) $('status').textContent = ''; }, 4000); };

const credentials = {
  get token() { return session.getItem('token'); },
  get apiKey() { return session.getItem('apiKey'); },
  get org() { return session.getItem('org'); },
  get sandbox() { return session.getItem('sandbox'); },
  signIn(token, apiKey) { session.setItem('token', token); session.setItem('apiKey', apiKey); },
  signOut() { session.removeItem('token'); session.removeItem('apiKey'); },
  tenant(org, sandbox) { session.setItem('org', org); session.setItem('sandbox', sandbox); },
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** A call of the API as the signed-in user, in the chosen organisation and sandbox; the problem+json of an error thrown. */
async function api(path, { method = 'GET', body, contentType = 'application/json', raw = false } = {}) {
  const headers = {
    Authorization: `Bearer ${credentials.token}`,
    'x-api-key': credentials.apiKey,
    'x-gw-ims-org-id': credentials.org,
    'x-sandbox-name': credentials.sandbox,
  };
  if (body !== undefined) headers['Content-Type'] = contentType;
  const response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    credentials.signOut();
    render();
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const errorBox = (error) => h('p', { class: 'error', role: 'alert' }, error instanceof ApiError ? `${error.status}: ${error.message}` : String(error));

function table(caption, headings, rows, attrs = {}) {
  // A region of its own that scrolls sideways on a narrow screen, reachable by keyboard.
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 }, h('table', attrs, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows)));
}

function progressOf(job, label) {
  const progress = job.metrics?.progress;
  const done = progress?.shardsDone ?? 0;
  const of = progress?.shards ?? 0;
  const percent = of ? Math.round((100 * done) / of) : job.status === 'SUCCEEDED' ? 100 : 0;
  return h('span', {}, h('progress', { max: 100, value: percent, 'aria-label': label, 'data-percent': percent }), ` ${percent}%`);
}

function confirmThen(question, action) {
  return async () => {
    if (!window.confirm(question)) return;
    try {
      await action();
    } catch (error) {
      say(error.message);
    }
    render();
  };
}

// ---- pages ----

async function jobsPage(view, query) {
  const status = query.get('status') ?? '';
  const offset = query.get('offset');
  const params = new URLSearchParams({ limit: '20' });
  if (status) params.set('status', status);
  if (offset) params.set('offset', offset);
  const page = await api(`export/jobs?${params}`);
  const filter = h('form', { class: 'actions', 'aria-label': 'Filter jobs', onsubmit: (e) => {
    e.preventDefault();
    const chosen = e.target.elements.status.value;
    location.hash = chosen ? `#/jobs?status=${chosen}` : '#/jobs';
  } }, h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)))), h('button', { type: 'submit' }, 'Filter'));
  const rows = page.records.map((job) => h('tr', { 'data-job-id': job.id },
    h('td', {}, h('a', { href: `#/jobs/${job.id}` }, `Job ${job.id}`)),
    h('td', { class: `status-${job.status}` }, job.status),
    h('td', {}, time(job.creationTime)),
    h('td', {}, progressOf(job, `Progress of job ${job.id}`)),
    h('td', { class: 'num' }, job.metrics?.totalExportedProfileCounter ?? '—'),
    h('td', {}, h('div', { class: 'actions' }, RUNNING.includes(job.status)
      ? h('button', { type: 'button', class: 'danger', onclick: confirmThen(`Cancel export job ${job.id}?`, () => api(`export/jobs/${job.id}`, { method: 'DELETE' })) }, `Cancel job ${job.id}`)
      : h('button', { type: 'button', class: 'danger', onclick: confirmThen(`Delete export job ${job.id}? Its files stay.`, () => api(`export/jobs/${job.id}`, { method: 'DELETE' })) }, `Delete job ${job.id}`)))));
  const next = page.link?.next ? new URLSearchParams(page.link.next.split('?')[1]).get('offset') : null;
  add(view, h('h2', {}, 'Export jobs'), filter,
    table('Newest first', ['Job', 'Status', 'Created', 'Progress', 'Rows', 'Actions'], rows, { id: 'jobs' }),
    h('div', { class: 'actions' },
      offset ? h('a', { href: status ? `#/jobs?status=${status}` : '#/jobs' }, 'First page') : null,
      next ? h('a', { href: `#/jobs?offset=${encodeURIComponent(next)}${status ? `&status=${status}` : ''}` }, 'Next page') : null));
  if (page.records.some((job) => RUNNING.includes(job.status))) poll = setTimeout(render, 1500);
}

function shardChart(figures) {
  const width = 560;
  const bar = 22;
  const longest = Math.max(1, ...figures.map((f) => f.ms));
  const height = figures.length * (bar + 6) + 4;
  const chart = svg('svg', { class: 'bar-chart', role: 'img', viewBox: `0 0 ${width} ${height}`, width, height },
    svg('title', {}, 'Duration of each export activity, with its rows'),
    figures.map((f, i) => {
      const y = i * (bar + 6) + 2;
      const length = Math.max(2, ((width - 250) * f.ms) / longest);
      const shards = f.shards.length > 1 ? `${f.shards[0]}–${f.shards[f.shards.length - 1]}` : `${f.shards[0] ?? ''}`;
      return svg('g', {},
        svg('title', {}, `shards ${f.shards.join(', ')}: ${f.ms} ms, ${f.rows} rows`),
        svg('text', { x: 0, y: y + 15 }, `shards ${shards}`),
        svg('rect', { x: 90, y, width: length, height: bar }),
        svg('text', { x: 96 + length, y: y + 15 }, `${f.ms} ms, ${f.rows} rows`));
    }));
  return h('figure', {}, chart, h('figcaption', {}, 'Each export activity: how long it took and how many rows it wrote.'));
}

async function download(file) {
  const response = await api(file.href.replace(/^\//, ''), { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: file.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function filesOf(job, datasetId, batchId, label) {
  try {
    const list = await api(`datasets/${datasetId}/batches/${batchId}/files`);
    return table(label, ['File', 'Bytes', 'MD5', ''], list.files.map((file) => h('tr', { 'data-file': file.name },
      h('td', {}, file.name), h('td', { class: 'num' }, file.bytes), h('td', {}, file.md5 ?? ''),
      h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => download(file).catch((e) => say(e.message)) }, `Download ${file.name}`)))));
  } catch (error) {
    return errorBox(error);
  }
}

async function jobPage(view, id) {
  const job = await api(`export/jobs/${id}`);
  const metrics = job.metrics ?? {};
  const payload = {
    fields: job.fields, mergePolicy: job.mergePolicy, filter: job.filter, additionalFields: job.additionalFields,
    destination: job.destination, schema: job.schema, evaluationInfo: job.evaluationInfo, incremental: job.incremental,
  };
  add(view, h('h2', {}, `Export job ${job.id}`),
    h('p', {}, 'Status: ', h('strong', { class: `status-${job.status}`, id: 'job-status' }, job.status), ' ', progressOf(job, `Progress of job ${job.id}`)),
    RUNNING.includes(job.status) ? h('p', {}, h('button', { type: 'button', class: 'danger',
      onclick: confirmThen(`Cancel export job ${job.id}?`, () => api(`export/jobs/${job.id}`, { method: 'DELETE' })) }, `Cancel job ${job.id}`)) : null,
    table('Timings', ['What', 'When / how long'], [
      ['Created', time(job.creationTime)], ['Updated', time(job.updateTime)],
      ['Total', metrics.totalTime?.totalTimeInMs != null ? `${metrics.totalTime.totalTimeInMs} ms` : 'running'],
      ['Export', metrics.profileExportTime?.totalTimeInMs != null ? `${metrics.profileExportTime.totalTimeInMs} ms` : '—'],
      ['Rows', metrics.totalExportedProfileCounter ?? '—'], ['Files', metrics.files ?? '—'], ['Bytes', metrics.bytes ?? '—'],
    ].map(([what, value]) => h('tr', {}, h('th', { scope: 'row' }, what), h('td', {}, value)))),
    metrics.exportedProfileBySegmentCounter ? table('Rows per segment', ['Segment', 'Namespace', 'Rows'],
      metrics.exportedProfileBySegmentCounter.map((s) => h('tr', {}, h('td', {}, s.segmentId), h('td', {}, s.segmentNs), h('td', { class: 'num' }, s.count)))) : null,
    metrics.changes ? table('Changes', ['Entered', 'Exited', 'Updated'], [h('tr', {}, h('td', { class: 'num' }, metrics.changes.entered),
      h('td', { class: 'num' }, metrics.changes.exited), h('td', { class: 'num' }, metrics.changes.updated))]) : null,
    job.errors?.length ? h('section', {}, h('h3', {}, 'Errors'), h('ul', {}, job.errors.map((e) => h('li', { class: 'error' }, `${e.code}: ${e.msg}`)))) : null,
    job.callback ? table(`Callback to ${job.callback.url}`, ['Attempt', 'At', 'Status', 'Error', 'Delivered'],
      (job.callback.attempts ?? []).map((a) => h('tr', {}, h('td', {}, a.attempt), h('td', {}, time(a.atMs)), h('td', {}, a.status ?? '—'), h('td', {}, a.error ?? ''), h('td', {}, a.delivered ? 'yes' : 'no')))) : null,
    metrics.shards?.length ? h('section', {}, h('h3', {}, 'Shards'), shardChart(metrics.shards)) : null,
    h('section', {}, h('h3', {}, 'Payload'), h('pre', {}, JSON.stringify(payload, null, 2))));
  if (job.status === 'SUCCEEDED') {
    const batches = job.destination.batches ?? [{ batchId: job.destination.batchId }];
    const files = h('section', { id: 'files' }, h('h3', {}, 'Files'));
    for (const batch of batches)
      files.append(await filesOf(job, job.destination.datasetId, batch.batchId, `Batch ${batch.batchId}${batch.segmentId ? ` (segment ${batch.segmentId})` : ''}`));
    add(view, files);
  }
  if (RUNNING.includes(job.status)) poll = setTimeout(render, 1500);
}

async function schedulesPage(view) {
  const list = await api('config/schedules?limit=100');
  const toggle = (schedule) => {
    const next = schedule.state === 'active' ? 'inactive' : 'active';
    return h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try {
        await api(`config/schedules/${schedule.id}`, { method: 'PATCH', body: [{ op: 'replace', path: '/state', value: next }],
          contentType: 'application/json-patch+json' });
        say(`Schedule ${schedule.name} is ${next}`);
      } catch (error) {
        say(error.message);
      }
      render();
    } }, `${next === 'active' ? 'Activate' : 'Deactivate'} ${schedule.name}`);
  };
  add(view, h('h2', {}, 'Schedules'), table('Schedules', ['Name', 'Type', 'State', 'Cron', 'Next run', 'Last run', 'Last job', 'Last error', ''],
    list.children.map((s) => h('tr', { 'data-schedule-id': s.id }, h('td', {}, s.name), h('td', {}, s.type), h('td', {}, s.state), h('td', {}, h('code', {}, s.schedule)),
      h('td', {}, s.nextRunTime ?? '—'), h('td', {}, s.lastRunTime ?? '—'),
      h('td', {}, s.lastJobId ? (s.type === 'export' ? h('a', { href: `#/jobs/${s.lastJobId}` }, `Job ${s.lastJobId}`) : `Segment job ${s.lastJobId}`) : '—'),
      h('td', { class: 'error' }, s.lastError ?? ''), h('td', {}, toggle(s))))));
}

async function segmentsPage(view) {
  const list = await api('segment/definitions?limit=100');
  const error = h('div', { id: 'pql-error' });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'new-segment', onsubmit: async (e) => {
    e.preventDefault();
    error.replaceChildren();
    const name = form.elements.name.value;
    const pql = form.elements.pql.value;
    try {
      const created = await api('segment/definitions', { method: 'POST', body: {
        name, expression: { type: 'PQL', format: 'pql/text', value: pql }, schema: { name: '_xdm.context.profile' } } });
      say(`Segment definition ${created.name} created`);
      location.hash = `#/segments/${created.id}`;
    } catch (failure) {
      error.append(errorBox(failure));
      const at = failure.problem?.errors?.find((p) => p.position !== undefined)?.position;
      if (at === undefined) return;
      // The expression with the character where compilation stopped marked (the end, when it stopped there).
      error.append(h('pre', { id: 'pql-at', 'aria-label': `The expression, marked at position ${at}` },
        pql.slice(0, at), h('mark', { class: 'at', 'data-position': at }, pql.slice(at, at + 1) || ' '), pql.slice(at + 1)));
      form.elements.pql.focus();
      form.elements.pql.setSelectionRange(at, Math.min(pql.length, at + 1));
    }
  } },
  h('h3', { id: 'new-segment' }, 'New segment definition'),
  h('label', {}, 'Name', h('input', { name: 'name', required: true })),
  h('label', {}, 'PQL expression', h('textarea', { name: 'pql', rows: 3, required: true, spellcheck: 'false' })),
  error, h('div', {}, h('button', { type: 'submit' }, 'Create')));
  add(view, h('h2', {}, 'Segment definitions'),
    table('Segment definitions', ['Name', 'Id', 'Merge policy', 'Expression'], list.segments.map((d) => h('tr', {},
      h('td', {}, h('a', { href: `#/segments/${d.id}` }, d.name)), h('td', {}, h('code', {}, d.id)),
      h('td', {}, d.mergePolicyId ?? 'default'), h('td', {}, h('code', {}, d.expression?.value ?? ''))))), form);
}

async function segmentPage(view, id) {
  const d = await api(`segment/definitions/${id}`);
  add(view, h('h2', {}, d.name), h('p', {}, d.description ?? ''),
    table('Definition', ['What', 'Value'], [['Id', d.id], ['Merge policy', d.mergePolicyId ?? 'default'], ['Created', time(d.creationTime)], ['Updated', time(d.updateTime)]]
      .map(([what, value]) => h('tr', {}, h('th', { scope: 'row' }, what), h('td', {}, value)))),
    h('h3', {}, 'PQL'), h('pre', {}, d.expression?.value ?? ''), h('p', {}, h('a', { href: '#/segments' }, 'All segment definitions')));
}

async function datasetsPage(view) {
  const list = await api('datasets');
  add(view, h('h2', {}, 'Datasets'), table('Datasets', ['Name', 'Id', 'Kind', 'Profile store', 'Created'], list.datasets.map((d) => h('tr', {},
    h('td', {}, h('a', { href: `#/datasets/${d.id}` }, d.name)), h('td', {}, h('code', {}, d.id)),
    h('td', {}, d.holdsEvents ? 'events' : 'profiles'), h('td', {}, d.profileEnabled ? 'yes' : 'no'), h('td', {}, time(d.created))))));
}

async function datasetPage(view, id) {
  const [dataset, list] = await Promise.all([api(`datasets/${id}`), api(`datasets/${id}/batches?limit=100`)]);
  add(view, h('h2', {}, `Dataset ${dataset.name}`),
    table('Batches, newest first', ['Batch', 'Status', 'Accepted', 'Rejected', 'Created', 'Job'], list.batches.map((b) => h('tr', { 'data-batch-id': b.id },
      h('td', {}, h('code', {}, b.id)), h('td', {}, b.status), h('td', { class: 'num' }, b.recordsAccepted), h('td', { class: 'num' }, b.recordsRejected),
      h('td', {}, time(b.created)), h('td', {}, b.relatedJobId ? h('a', { href: `#/jobs/${b.relatedJobId}` }, `Job ${b.relatedJobId}`) : '—')))),
    ...list.batches.filter((b) => b.errors?.length).map((b) => h('details', { class: 'rejected' }, h('summary', {}, `Rejected lines of batch ${b.id}`),
      h('ul', {}, b.errors.map((e) => h('li', {}, `line ${e.line}: ${e.reason}`))))));
}

// ---- shell ----

const pages = [
  [/^#\/jobs\/(\d+)$/, jobPage],
  [/^#\/schedules$/, schedulesPage],
  [/^#\/segments\/([A-Za-z0-9._:-]+)$/, segmentPage],
  [/^#\/segments$/, segmentsPage],
  [/^#\/datasets\/([A-Za-z0-9]+)$/, datasetPage],
  [/^#\/datasets$/, datasetsPage],
  [/^#\/jobs$/, jobsPage],
];

async function render() {
  clearTimeout(poll);
  const view = $('view');
  const signedIn = Boolean(credentials.token);
  $('sign-in').hidden = signedIn;
  $('sign-out').hidden = !signedIn;
  $('org').value = credentials.org ?? '';
  $('sandbox').value = credentials.sandbox ?? '';
  const [path, search] = (location.hash || '#/jobs').split('?');
  for (const link of document.querySelectorAll('nav a')) {
    if (path.startsWith(link.getAttribute('href'))) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const fresh = h('div', { id: 'view' });
  if (!signedIn) return view.replaceWith(fresh);
  if (!credentials.org || !credentials.sandbox) {
    fresh.append(h('p', {}, 'Choose an organisation and a sandbox above.'));
    return view.replaceWith(fresh);
  }
  const [pattern, page] = pages.find(([p]) => p.test(path)) ?? pages[pages.length - 1];
  try {
    await page(fresh, ...(pattern.exec(path)?.slice(1) ?? []), new URLSearchParams(search ?? ''));
  } catch (error) {
    fresh.append(errorBox(error));
  }
  $('view').replaceWith(fresh);
}

function start() {
  $('tenant').addEventListener('submit', (e) => {
    e.preventDefault();
    credentials.tenant($('org').value.trim(), $('sandbox').value.trim());
    render();
  });
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    credentials.signIn($('token').value.trim(), $('api-key').value.trim());
    $('token').value = '';
    render();
  });
  $('dev-sign-in-row').hidden = !['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname);
  $('dev-sign-in').addEventListener('click', async () => {
    const org = $('org').value.trim();
    if (!org) return say('Choose an organisation first.');
    const response = await fetch(`/dev/token?org=${encodeURIComponent(org)}`, { method: 'POST' });
    if (!response.ok) return say(`Development sign-in is not available here (HTTP ${response.status}).`);
    const answer = await response.json();
    credentials.tenant(org, $('sandbox').value.trim());
    credentials.signIn(answer.access_token, answer.client_id);
    render();
  });
  $('sign-out').addEventListener('click', () => {
    credentials.signOut();
    render();
  });
  window.addEventListener('hashchange', render);
  render();
}

start();
