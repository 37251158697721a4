import { html } from "htm/preact";
import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, call, clearCredentials, loadCredentials, saveCredentials, type Credentials, type Json } from "./api.js";
import { DailyChart, Sparkline } from "./charts.js";
import { buildTree, pct, Sequence, type Action } from "./flow.js";

/**
 * The journey console: one user of the API, their journeys, one journey's flow and
 * numbers, and the CSV export. Every string from the API is rendered by preact as
 * text (never as HTML), so a journey named `<img onerror=…>` is only a name.
 */

interface Win {
  start: string;
  end: string;
}

const sum = (rows: Json[] | undefined, key: string): number => (rows ?? []).reduce((n: number, r: Json) => n + Number(r?.[key] ?? 0), 0);

function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${error instanceof ApiError ? error.toString() : String(error)}</div>`;
}

/** Loads whenever `deps` change; keeps the last answer and the API's error. */
function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data: state.data, error: state.error, loading: state.loading, reload: () => setTick((t) => t + 1) };
}

/* ---------------------------------------------------------------------------------------------- */

function SignIn({ onSignedIn }: { onSignedIn: (c: Credentials) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // A key is checked with a cheap authenticated read before it is kept.
  const withKey = async (e: Event) => {
    e.preventDefault();
    const apiKey = String(new FormData(e.target as HTMLFormElement).get("apiKey") ?? "").trim();
    setBusy(true);
    setError(null);
    try {
      const c: Credentials = { kind: "key", apiKey };
      await call(c, "GET", "account.journey.benchmark");
      onSignedIn(c);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const withPassword = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const username = String(form.get("username") ?? "");
    setBusy(true);
    setError(null);
    try {
      const res = await call(null, "POST", "user.login", { Username: username, Password: String(form.get("password") ?? "") });
      onSignedIn({ kind: "session", sessionId: String(res.SessionID), username });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>Journey console</h1>
    <${ErrorBox} error=${error} />
    <div class="signin-forms">
      <form id="signin-key" onSubmit=${withKey}>
        <h2>With an API key</h2>
        <label>API key <input name="apiKey" type="password" autocomplete="off" required /></label>
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
      <form id="signin-password" onSubmit=${withPassword}>
        <h2>With username and password</h2>
        <label>Username <input name="username" autocomplete="username" required /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
    </div>
    <p class="hint">Credentials are kept in this tab only (sessionStorage) and sent in request headers.</p>
  </main>`;
}

/* ---------------------------------------------------------------------------------------------- */

function Benchmark({ c, win }: { c: Credentials; win: Win }) {
  const { data, error } = useLoad(() => call(c, "GET", "account.journey.benchmark", { StartDate: win.start, EndDate: win.end }), [win.start, win.end]);
  const b = data?.Benchmark;
  const rows: [string, string, string][] = b
    ? [
        ["OpenRate", "Open rate", pct(b.OpenRate, 1)],
        ["ClickRate", "Click rate", pct(b.ClickRate, 1)],
        ["ClickToOpenRate", "Click-to-open", pct(b.ClickToOpenRate, 1)],
        ["BounceRate", "Bounce rate", pct(b.BounceRate, 1)],
        ["UnsubscribeRate", "Unsubscribe rate", pct(b.UnsubscribeRate, 1)],
        ["ComplaintRate", "Complaint rate", pct(b.ComplaintRate, 1)],
        ["RevenuePerSubscriber", "Revenue / sent", String(b.RevenuePerSubscriber)],
        ["JourneyCount", "Journeys with sends", String(b.JourneyCount)],
        ["TotalSent", "Total sent", String(b.TotalSent)],
      ]
    : [];
  return html`<aside class="panel benchmark" id="benchmark">
    <h2>Account benchmark</h2>
    <${ErrorBox} error=${error} />
    ${data ? html`<p class="muted">${data.StartDate} to ${data.EndDate}</p>` : null}
    <dl>${rows.map(([k, label, v]) => html`<div><dt>${label}</dt><dd data-bench=${k}>${v}</dd></div>`)}</dl>
  </aside>`;
}

function ExportButton({ c, win }: { c: Credentials; win: Win }) {
  const [state, setState] = useState<{ status?: string; url?: string; error?: unknown; busy: boolean }>({ busy: false });
  const run = async () => {
    setState({ busy: true, status: "Submitting" });
    try {
      const { ExportID } = await call(c, "POST", "journey.export", { StatsStartDate: win.start, StatsEndDate: win.end, IncludeActions: 1 });
      // Poll until the worker finishes; an export of 10,000 journeys takes minutes, so no time limit here.
      for (;;) {
        const job = (await call(c, "GET", "journey.export", { ExportID })).ExportJob;
        setState({ busy: true, status: job.Status });
        if (job.Status === "Completed") {
          // The presigned download URL is the API's answer, not the user's credential.
          const url = String(job.DownloadURL);
          if (!/^https?:\/\//.test(url)) throw new Error("Unexpected download URL");
          setState({ busy: false, status: "Completed", url });
          const a = document.createElement("a");
          a.href = url;
          a.download = `journey-export-${ExportID}.csv`;
          document.body.appendChild(a);
          a.click();
          a.remove();
          return;
        }
        if (job.Status === "Failed") throw new Error(`Export failed: ${String(job.ErrorMessage ?? "unknown reason")}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<div class="export">
    <button type="button" id="export" onClick=${run} disabled=${state.busy}>Export CSV</button>
    ${state.status ? html`<span class="export-status" data-status=${state.status}>${state.status}${state.busy ? "…" : ""}</span>` : null}
    ${state.url ? html`<a class="export-link" href=${state.url} rel="noreferrer">Download again</a>` : null}
    <${ErrorBox} error=${state.error} />
  </div>`;
}

function StatusToggle({ c, journey, onChanged }: { c: Credentials; journey: Json; onChanged: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const enabled = journey.Status === "Enabled";
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      await call(c, "GET", enabled ? "journey.disable" : "journey.enable", { JourneyID: journey.JourneyID });
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="toggle">
    <button type="button" class="toggle-status" data-journey-id=${journey.JourneyID} onClick=${toggle} disabled=${busy}>${enabled ? "Disable" : "Enable"}</button>
    <${ErrorBox} error=${error} />
  </span>`;
}

const PAGE = 100;

function JourneyList({ c, win }: { c: Credentials; win: Win }) {
  const { data, error, loading, reload } = useLoad(() => call(c, "GET", "journeys", { StatsStartDate: win.start, StatsEndDate: win.end }), [win.start, win.end]);
  const [filter, setFilter] = useState("");
  const [shown, setShown] = useState(PAGE);
  const journeys: Json[] = data?.Journeys ?? [];
  const matching = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? journeys.filter((j) => String(j.JourneyName).toLowerCase().includes(f)) : journeys;
  }, [journeys, filter]);
  return html`<div class="list-layout">
    <section class="panel journeys">
      <div class="toolbar">
        <h2>Journeys <span class="muted" id="journey-count">${data ? journeys.length : ""}</span></h2>
        <input type="search" placeholder="Filter by name" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />
        <${ExportButton} c=${c} win=${win} />
      </div>
      <${ErrorBox} error=${error} />
      ${loading && !data ? html`<p class="muted">Loading…</p>` : null}
      <table class="grid-table" id="journeys">
        <thead><tr><th>Name</th><th>Status</th><th>Trigger</th><th class="n">Active</th><th class="n">Total</th><th class="n">Sent</th><th class="n">Opens</th><th class="n">Clicks</th><th>Sends per day</th><th></th></tr></thead>
        <tbody>
          ${matching.slice(0, shown).map((j) => {
            const days: Json[] = j.JourneyStats?.AggregatedDaysEmailActions ?? [];
            return html`<tr data-journey-id=${j.JourneyID} key=${j.JourneyID}>
              <td><a class="journey-name" href=${`#/journey/${j.JourneyID}`}>${j.JourneyName}</a></td>
              <td data-col="Status"><span class=${`badge ${j.Status}`}>${j.Status}</span></td>
              <td data-col="Trigger">${j.Trigger}</td>
              <td class="n" data-col="ActiveSubscribers">${j.JourneyStats?.ActiveSubscribers ?? 0}</td>
              <td class="n" data-col="TotalSubscribers">${j.JourneyStats?.TotalSubscribers ?? 0}</td>
              <td class="n" data-col="SendCount">${sum(days, "SendCount")}</td>
              <td class="n" data-col="OpenCount">${sum(days, "OpenCount")}</td>
              <td class="n" data-col="ClickCount">${sum(days, "ClickCount")}</td>
              <td><${Sparkline} values=${days.map((d) => Number(d.SendCount ?? 0))} label=${`Sends per day of ${String(j.JourneyName)}`} /></td>
              <td><${StatusToggle} c=${c} journey=${j} onChanged=${reload} /></td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${matching.length > shown ? html`<button type="button" class="more" onClick=${() => setShown(shown + PAGE)}>Show ${Math.min(PAGE, matching.length - shown)} more of ${matching.length - shown}</button>` : null}
    </section>
    <${Benchmark} c=${c} win=${win} />
  </div>`;
}

/* ---------------------------------------------------------------------------------------------- */

const FILTERS = ["opened", "clicked", "converted", "browser_viewed", "forwarded", "unsubscribed", "bounced", "spam_complaint"];
const SUB_PAGE = 25;

function Subscribers({ c, journeyId, actionId }: { c: Credentials; journeyId: string; actionId: string }) {
  const [filter, setFilter] = useState("");
  const [from, setFrom] = useState(0);
  const { data, error, loading } = useLoad(
    () => call(c, "GET", "journey.action.subscribers", { JourneyID: journeyId, ActionID: actionId, FilterJSON: filter ? JSON.stringify([filter]) : undefined, RecordsFrom: from, RecordsPerRequest: SUB_PAGE }),
    [journeyId, actionId, filter, from],
  );
  const total = Number(data?.TotalSubscribers ?? 0);
  return html`<section class="panel subscribers" id="subscribers" data-action-id=${actionId}>
    <div class="toolbar">
      <h2>Subscribers of action #${actionId} <span class="muted" id="subscriber-total">${data ? total : ""}</span></h2>
      <label>Engagement <select id="engagement" value=${filter} onChange=${(e: Event) => { setFilter((e.target as HTMLSelectElement).value); setFrom(0); }}>
        <option value="">all sent</option>
        ${FILTERS.map((f) => html`<option value=${f}>${f.replace("_", " ")}</option>`)}
      </select></label>
    </div>
    <${ErrorBox} error=${error} />
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    <table class="grid-table"><thead><tr><th class="n">SubscriberID</th><th>Email address</th><th>Suppressed</th></tr></thead>
      <tbody>${(data?.Subscribers ?? []).map((s: Json) => html`<tr data-subscriber-id=${s.SubscriberID}><td class="n">${s.SubscriberID}</td><td>${s.EmailAddress}</td><td>${s.Suppressed ? "yes" : ""}</td></tr>`)}</tbody>
    </table>
    <div class="pager">
      <button type="button" disabled=${from === 0} onClick=${() => setFrom(Math.max(0, from - SUB_PAGE))}>Previous</button>
      <span class="muted">${total ? `${from + 1}–${Math.min(from + SUB_PAGE, total)} of ${total}` : "none"}</span>
      <button type="button" disabled=${from + SUB_PAGE >= total} onClick=${() => setFrom(from + SUB_PAGE)}>Next</button>
    </div>
  </section>`;
}

const ISP_COLS = ["Sent", "Delivered", "Opened", "Clicked", "Bounced", "Unsubscribed", "Complained"];
const ISP_HEAD: Record<string, string> = { Delivered: "Deliv.", Unsubscribed: "Unsub.", Complained: "Spam" };

function JourneyView({ c, win, journeyId }: { c: Credentials; win: Win; journeyId: string }) {
  const dates = { StartDate: win.start, EndDate: win.end };
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        call(c, "GET", "journey", { JourneyID: journeyId, ...dates }),
        call(c, "GET", "journey.stats.byaction", { JourneyID: journeyId, ...dates }),
        call(c, "GET", "journey.stats.byisp", { JourneyID: journeyId, ...dates }),
      ]),
    [journeyId, win.start, win.end],
  );
  const [selected, setSelected] = useState<string | null>(null);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  const [journey, byAction, byIsp] = data;
  const actions: Action[] = journey.Actions ?? [];
  const stats = new Map<string, Json>((byAction.Actions ?? []).map((a: Json) => [String(a.ActionID), a]));
  const days: Json[] = journey.JourneyStats?.AggregatedDaysEmailActions ?? [];
  return html`<div class="journey-view" data-journey-id=${journey.JourneyID}>
    <div class="panel journey-head">
      <a href="#/">← All journeys</a>
      <h2 id="journey-name">${journey.JourneyName}</h2>
      <span class=${`badge ${journey.Status}`} id="journey-status">${journey.Status}</span>
      <span class="muted">Trigger: ${journey.Trigger}</span>
      <span class="muted">Active ${journey.JourneyStats?.ActiveSubscribers ?? 0} of ${journey.JourneyStats?.TotalSubscribers ?? 0}</span>
      <${StatusToggle} c=${c} journey=${journey} onChanged=${reload} />
      ${journey.Notes ? html`<p class="notes">${journey.Notes}</p>` : null}
    </div>
    <div class="journey-body">
      <section class="panel flow" id="flow">
        <h3>Flow <span class="muted">${actions.length} actions</span></h3>
        ${actions.length ? html`<${Sequence} nodes=${buildTree(actions)} stats=${stats} selected=${selected} onSelect=${setSelected} />` : html`<p class="muted">No actions yet.</p>`}
      </section>
      <div class="side">
        <section class="panel">
          <h3>Email actions per day</h3>
          <${DailyChart} dates=${days.map((d) => String(d.Date))} series=${[
            { name: "Sent", cls: "s-sent", values: days.map((d) => Number(d.SendCount ?? 0)) },
            { name: "Opens", cls: "s-open", values: days.map((d) => Number(d.OpenCount ?? 0)) },
            { name: "Clicks", cls: "s-click", values: days.map((d) => Number(d.ClickCount ?? 0)) },
          ]} />
        </section>
        <section class="panel">
          <h3>By ISP</h3>
          <div class="table-wrap"><table class="grid-table" id="isp"><thead><tr><th>Domain</th>${ISP_COLS.map((k) => html`<th class="n" title=${k}>${ISP_HEAD[k] ?? k}</th>`)}<th class="n">Bounce %</th></tr></thead>
            <tbody>${(byIsp.ByISP ?? []).map((r: Json) => html`<tr data-domain=${r.Domain}><td>${r.Domain}</td>${ISP_COLS.map((k) => html`<td class="n" data-col=${k}>${r[k]}</td>`)}<td class="n">${pct(Number(r.Bounced), Number(r.Sent))}</td></tr>`)}</tbody>
          </table></div>
          ${(byIsp.ByISP ?? []).length ? null : html`<p class="muted">No deliveries in this window.</p>`}
        </section>
        ${selected ? html`<${Subscribers} c=${c} journeyId=${String(journey.JourneyID)} actionId=${selected} key=${selected} />` : html`<p class="muted hint">Click an email in the flow to list its subscribers.</p>`}
      </div>
    </div>
  </div>`;
}

/* ---------------------------------------------------------------------------------------------- */

const route = (): { journeyId: string | null } => {
  const m = /^#\/journey\/(\d+)$/.exec(location.hash);
  return { journeyId: m ? m[1]! : null };
};

function App() {
  const [creds, setCreds] = useState<Credentials | null>(loadCredentials);
  const [where, setWhere] = useState(route);
  const [win, setWin] = useState<Win>({ start: "", end: "" });
  useEffect(() => {
    const on = () => setWhere(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const signIn = useCallback((c: Credentials) => {
    saveCredentials(c);
    setCreds(c);
  }, []);
  const signOut = () => {
    clearCredentials();
    setCreds(null);
    location.hash = "";
  };
  if (!creds) return html`<${SignIn} onSignedIn=${signIn} />`;
  const apply = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setWin({ start: String(f.get("start") ?? ""), end: String(f.get("end") ?? "") });
  };
  return html`<div class="app">
    <header class="bar">
      <a class="brand" href="#/">Journey console</a>
      <form class="window" id="window" onSubmit=${apply}>
        <label>From <input type="date" name="start" value=${win.start} /></label>
        <label>To <input type="date" name="end" value=${win.end} /></label>
        <button type="submit">Apply</button>
        <span class="muted">${win.start || win.end ? "" : "last 30 days"}</span>
      </form>
      <span class="who">${creds.kind === "session" ? creds.username : "API key"}</span>
      <a href="/docs">API reference</a>
      <button type="button" id="signout" onClick=${signOut}>Sign out</button>
    </header>
    <main>
      ${where.journeyId ? html`<${JourneyView} c=${creds} win=${win} journeyId=${where.journeyId} key=${where.journeyId} />` : html`<${JourneyList} c=${creds} win=${win} />`}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app")!);
