// The web chat: a client of the gateway's own OpenAI-compatible API (/v1/chat/completions, streamed), no framework.
// The conversation lives in `history` and goes with every request, so each turn carries the ones before it.
const $ = (id) => document.getElementById(id);
const history = [];
let running = null; // the AbortController of the request in flight

function bubble(role, text) {
  const el = document.createElement('div');
  el.className = `msg ${role}`;
  el.textContent = text;
  $('log').append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function headers() {
  const h = { 'content-type': 'application/json' };
  const key = $('api_key').value.trim();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

async function loadModels() {
  try {
    const res = await fetch('/v1/models', { headers: headers() });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
    $('model').replaceChildren(...body.data.map((m) => new Option(`${m.id} (ctx ${m.context_length})`, m.id)));
    $('error').hidden = true; // e.g. a 401 before the key was entered
  } catch (e) {
    showError(`Could not list models: ${e.message}`);
  }
}

function params() {
  const num = (id) => ($(id).value === '' ? undefined : Number($(id).value));
  return { model: $('model').value || undefined, temperature: num('temperature'), top_p: num('top_p'), max_tokens: num('max_tokens'), seed: num('seed') };
}

/** Yields each `data:` payload of a server-sent event stream. */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      for (const line of frame.split('\n')) if (line.startsWith('data: ')) yield line.slice(6);
    }
  }
}

async function send(text) {
  $('error').hidden = true;
  const system = $('system').value.trim();
  history.push({ role: 'user', content: text });
  bubble('user', text);
  const out = bubble('assistant', '');
  const messages = system ? [{ role: 'system', content: system }, ...history] : [...history];
  running = new AbortController();
  $('send').disabled = true;
  $('stop').disabled = false;
  const t0 = performance.now();
  let first = 0;
  let chunks = 0;
  let usage = null;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ ...params(), messages, stream: true, stream_options: { include_usage: true } }),
      signal: running.signal,
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const retry = res.headers.get('retry-after');
      throw new Error(`${res.status}: ${body.error?.message ?? res.statusText}${retry ? ` (retry after ${retry} s)` : ''}`);
    }
    for await (const data of events(res.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) {
        if (!first) first = performance.now();
        chunks++;
        out.textContent += delta;
        out.scrollIntoView({ block: 'end' });
      }
      stats(usage?.completion_tokens ?? chunks, t0, first);
    }
  } catch (e) {
    if (e.name === 'AbortError') out.classList.add('stopped');
    else {
      showError(e.message);
      out.classList.add('failed');
    }
  } finally {
    running = null;
    $('send').disabled = false;
    $('stop').disabled = true;
  }
  // What the assistant said (even when stopped) is part of the conversation; a failed turn is not.
  if (out.classList.contains('failed')) {
    history.pop();
    out.remove();
  } else history.push({ role: 'assistant', content: out.textContent });
}

function stats(tokens, t0, first) {
  const now = performance.now();
  const rate = first && now > first ? ((tokens - 1) * 1000) / (now - first) : 0;
  $('stats').textContent = `${tokens} tokens · first token ${first ? Math.round(first - t0) : '–'} ms · ${rate.toFixed(1)} tokens/s`;
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text || running) return;
  $('input').value = '';
  void send(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
$('stop').addEventListener('click', () => running?.abort());
$('clear').addEventListener('click', () => {
  history.length = 0;
  $('log').replaceChildren();
  $('stats').textContent = '';
});
$('api_key').addEventListener('change', loadModels);
void loadModels();
