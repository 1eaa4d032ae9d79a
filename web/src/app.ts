import { ApiClient, ApiError, type ContainerView, type PullView } from '../../src/client/api-client.js';
import { clockTime, relative as relativeTime } from '../../src/client/time.js';

/**
 * The dashboard: every container, kept up to date from GET /v1/events without reloads. A row is made once per
 * container and only its changed cells are written, at most once per animation frame, so a thousand
 * containers and their activity samples cost little. The API is the only source: this page holds no state
 * that the server does not have.
 */

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const tbody = $<HTMLTableSectionElement>('#containers tbody');
const rows = new Map<string, Row>();
const dirty = new Set<string>();
const containers = new Map<string, ContainerView>();

// --- errors ----------------------------------------------------------------------------------------------

function showError(message: string): void {
  $('#error-text').textContent = message;
  $('#error').hidden = false;
}
$('#error-close').addEventListener('click', () => ($('#error').hidden = true));

/** The API, from the page's own origin, with the login the browser holds. */
const client = new ApiClient();
const api = <T>(method: string, path: string, body?: unknown): Promise<T> => client.json<T>(method, path, body);

/** A failure in words: the server's message with its code, or the error's own message. */
const worded = (error: unknown) => (error instanceof ApiError && error.code !== '' ? `${error.message} (${error.code})` : (error as Error).message);

/** Runs an action for a button, disabling it meanwhile; a failure is shown, not thrown. */
async function act(button: HTMLButtonElement | null, action: () => Promise<unknown>): Promise<void> {
  if (button) button.disabled = true;
  try {
    await action();
    $('#error').hidden = true;
  } catch (error) {
    showError(worded(error));
  } finally {
    if (button) button.disabled = false;
  }
}

// --- times ---------------------------------------------------------------------------------------------

const relative = (iso: string | null) => relativeTime(iso, 'short');

// --- rows ----------------------------------------------------------------------------------------------

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly cells: Record<'name' | 'image' | 'status' | 'ports' | 'connections' | 'activity' | 'next' | 'why', HTMLTableCellElement>;
  readonly toggle: HTMLButtonElement;
  readonly extend: HTMLButtonElement;
  /** What each cell shows now, to write only what changed. */
  readonly shown: Map<string, string>;
}

function makeRow(id: string): Row {
  const tr = document.createElement('tr');
  tr.dataset.id = id;
  const cell = (name: string) => {
    const td = document.createElement('td');
    td.className = name;
    tr.append(td);
    return td;
  };
  const cells = {
    name: cell('name'),
    image: cell('image'),
    status: cell('status-cell'),
    ports: cell('ports'),
    connections: cell('connections'),
    activity: cell('activity'),
    next: cell('next'),
    why: cell('why'),
  };
  const actions = cell('actions');
  const button = (label: string, action: string) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = action;
    actions.append(b);
    return b;
  };
  const toggle = button('Stop', 'toggle');
  const extend = button('Extend 1h', 'extend');
  button('Logs', 'logs');
  button('Delete', 'delete');
  return { tr, cells, toggle, extend, shown: new Map() };
}

/** Sets a cell's content only when it changed. */
function put(row: Row, key: keyof Row['cells'], value: string, render: (td: HTMLTableCellElement) => void): void {
  if (row.shown.get(key) === value) return;
  row.shown.set(key, value);
  render(row.cells[key]);
}

function portLinks(td: HTMLTableCellElement, c: ContainerView): void {
  td.replaceChildren();
  if (c.asleep) {
    const note = document.createElement('span');
    note.className = 'asleep-note';
    note.textContent = 'asleep: connect to wake';
    td.append(note);
  }
  for (const [inside, outside] of Object.entries(c.ports)) {
    if (inside === '22/tcp') {
      const code = document.createElement('code');
      code.textContent = `ssh -p ${outside} root@${location.hostname}`;
      td.append(code);
    } else {
      const a = document.createElement('a');
      a.href = `${location.protocol}//${location.hostname}:${outside}/`;
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = `${outside} → ${inside}`;
      td.append(a);
    }
  }
}

function render(id: string): void {
  const c = containers.get(id);
  let row = rows.get(id);
  if (c === undefined) {
    row?.tr.remove();
    rows.delete(id);
    return;
  }
  if (row === undefined) {
    row = makeRow(id);
    rows.set(id, row);
    tbody.append(row.tr);
  }
  const text = (value: string) => (td: HTMLTableCellElement) => (td.textContent = value);
  put(row, 'name', c.name, text(c.name.replace(/^\//, '')));
  row.cells.name.title = c.container_id;
  put(row, 'image', c.image, text(c.image));
  const status = c.asleep ? 'asleep' : c.status;
  put(row, 'status', status, (td) => {
    const badge = document.createElement('span');
    badge.className = `status ${status}`;
    badge.textContent = status;
    td.replaceChildren(badge);
  });
  put(row, 'ports', `${c.asleep}${JSON.stringify(c.ports)}`, (td) => portLinks(td, c));
  put(row, 'connections', c.connections, text(c.connections === '' ? '–' : c.connections));
  const activity = relative(c.last_activity_at) + (c.activity_source ? ` (${c.activity_source})` : '');
  put(row, 'activity', activity, text(activity));
  const next = relative(c.next_check_at);
  put(row, 'next', next, text(next));
  // Why it runs (kept_by) or why it stopped (stop_reason), and its deadline, as the server says.
  // A stopped container's stop deadline is behind it: only a running one's is shown.
  const running = c.status === 'running';
  const why = [running ? c.kept_by : c.stop_reason, !running || c.stop_at === null ? '' : `stops at ${clockTime(c.stop_at)}`].filter((part) => part).join('; ');
  put(row, 'why', why, text(why));
  row.toggle.textContent = c.status === 'running' ? 'Stop' : 'Start';
  row.toggle.disabled = c.status === 'stopping' || c.status === 'deleting';
  row.extend.hidden = c.status !== 'running';
}

let frame = 0;
function changed(id: string): void {
  dirty.add(id);
  frame ||= requestAnimationFrame(() => {
    frame = 0;
    for (const each of dirty) render(each);
    dirty.clear();
    $('#count').textContent = `(${containers.size})`;
    $('#empty').hidden = containers.size > 0;
  });
}

tbody.addEventListener('click', (event) => {
  const button = (event.target as HTMLElement).closest('button');
  const id = button?.closest('tr')?.dataset.id;
  if (!button || id === undefined) return;
  const c = containers.get(id);
  if (c === undefined) return;
  switch (button.dataset.action) {
    case 'toggle':
      void act(button, async () => {
        const next = await api<ContainerView>('PATCH', `/v1/containers/${id}`, { status: c.status === 'running' ? 'stopped' : 'running' });
        containers.set(id, next);
        changed(id);
      });
      break;
    case 'extend':
      void act(button, async () => {
        containers.set(id, await api<ContainerView>('PATCH', `/v1/containers/${id}`, { extend: '1h' }));
        changed(id);
      });
      break;
    case 'logs':
      void openLogs(c);
      break;
    case 'delete':
      if (confirm(`Delete ${c.name.replace(/^\//, '')} (${c.image})? Its container and everything in it are removed.`)) {
        void act(button, () => api('DELETE', `/v1/containers/${id}`));
      }
      break;
  }
});

// Relative times move on without events.
setInterval(() => {
  for (const id of containers.keys()) changed(id);
}, 15_000);

// --- the list and the live events ----------------------------------------------------------------------

/** Ids that an event told of while the list was being read: the event is newer than the list for them. */
let heardWhileLoading: Set<string> | undefined;

async function loadAll(): Promise<void> {
  const heard = (heardWhileLoading = new Set());
  try {
    const all = await api<ContainerView[]>('GET', '/v1/containers');
    const seen = new Set(all.map((c) => c.container_id));
    for (const id of containers.keys()) if (!seen.has(id) && !heard.has(id)) containers.delete(id);
    for (const c of all) if (!heard.has(c.container_id)) containers.set(c.container_id, c);
    for (const id of new Set([...rows.keys(), ...seen, ...containers.keys()])) changed(id);
  } finally {
    heardWhileLoading = undefined;
  }
}

function follow(): void {
  const source = new EventSource('/v1/events');
  const live = $('#live');
  source.addEventListener('open', () => {
    live.textContent = 'live';
    live.classList.add('on');
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself, sending Last-Event-ID: nothing is missed.
    live.textContent = 'reconnecting…';
    live.classList.remove('on');
  });
  const onContainer = (event: MessageEvent<string>) => {
    const data = JSON.parse(event.data) as { container_id: string; container?: ContainerView };
    heardWhileLoading?.add(data.container_id);
    if (data.container === undefined) containers.delete(data.container_id);
    else containers.set(data.container_id, data.container);
    changed(data.container_id);
  };
  for (const type of ['created', 'started', 'stopping', 'stopped', 'deleting', 'deleted', 'activity']) {
    source.addEventListener(`container.${type}`, onContainer);
  }
  source.addEventListener('image.pull', (event: MessageEvent<string>) => showPull((JSON.parse(event.data) as { pull: PullView }).pull));
  // The stream could not reach back far enough: read everything afresh.
  source.addEventListener('events.gap', () => void loadAll().catch((error: unknown) => showError(worded(error))));
}

// --- create --------------------------------------------------------------------------------------------

async function loadImages(): Promise<void> {
  const images = await api<string[]>('GET', '/v1/images');
  const select = $<HTMLSelectElement>('#create-image');
  const chosen = select.value;
  select.replaceChildren(
    ...images.map((image) => {
      const option = document.createElement('option');
      option.value = option.textContent = image;
      return option;
    }),
  );
  if (images.includes(chosen)) select.value = chosen;
  else if (images.includes('spin-docker/demo:latest')) select.value = 'spin-docker/demo:latest';
}

$<HTMLFormElement>('#create').addEventListener('submit', (event) => {
  event.preventDefault();
  const image = $<HTMLSelectElement>('#create-image').value;
  const key = $<HTMLTextAreaElement>('#create-key').value.trim();
  void act($<HTMLButtonElement>('#create-submit'), async () => {
    const c = await api<ContainerView>('POST', '/v1/containers', { image, ...(key === '' ? {} : { ssh_key: key }) });
    containers.set(c.container_id, c);
    changed(c.container_id);
  });
});

// --- pulls ---------------------------------------------------------------------------------------------

const pullItems = new Map<string, HTMLLIElement>();
function showPull(pull: PullView): void {
  let li = pullItems.get(pull.pull_id);
  if (li === undefined) {
    li = document.createElement('li');
    li.dataset.pull = pull.pull_id;
    li.append(document.createElement('span'), document.createElement('progress'), document.createElement('span'));
    pullItems.set(pull.pull_id, li);
    $('#pulls').prepend(li);
  }
  const [name, bar, state] = li.children as unknown as [HTMLSpanElement, HTMLProgressElement, HTMLSpanElement];
  name.textContent = pull.image;
  if (pull.bytes_total > 0) {
    bar.max = pull.bytes_total;
    bar.value = pull.bytes_done;
  }
  if (pull.status === 'done') bar.value = bar.max = 1;
  state.textContent = pull.status === 'failed' ? `failed: ${pull.error ?? ''}` : pull.status;
  li.className = pull.status;
  if (pull.status === 'done') void loadImages().catch(() => undefined);
}

$<HTMLFormElement>('#pull').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('#pull-image');
  void act($<HTMLButtonElement>('#pull-submit'), async () => {
    const answer = await api<PullView | { image: string; status: 'present' }>('POST', '/v1/images', { image: input.value.trim() });
    if (answer.status === 'present') showError(`${answer.image} is already on the server`);
    else showPull(answer as PullView);
  });
});

// --- logs ----------------------------------------------------------------------------------------------

let logsAbort: AbortController | undefined;
async function openLogs(c: ContainerView): Promise<void> {
  logsAbort?.abort();
  const abort = (logsAbort = new AbortController());
  const dialog = $<HTMLDialogElement>('#logs');
  const pre = $('#logs-text');
  $('#logs-title').textContent = `Logs of ${c.name.replace(/^\//, '')}`;
  pre.textContent = '';
  dialog.showModal();
  try {
    const res = await client.request('GET', `/v1/containers/${c.container_id}/logs?tail=200&follow=true`, {
      headers: { accept: 'text/plain' },
      signal: abort.signal,
    });
    if (res.body === null) throw new Error('the logs came without a body');
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(decoder.decode(chunk, { stream: true }));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
  } catch (error) {
    if (!abort.signal.aborted) showError(worded(error));
  }
}
$<HTMLDialogElement>('#logs').addEventListener('close', () => logsAbort?.abort());
$('#logs-close').addEventListener('click', () => $<HTMLDialogElement>('#logs').close());

// --- start ---------------------------------------------------------------------------------------------

follow();
void Promise.all([loadAll(), loadImages()]).catch((error: unknown) => showError(worded(error)));
