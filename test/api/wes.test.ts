// GA4GH WES 1.1 as a LIMS uses it, over HTTP: service-info, a test-profile run submitted as multipart/form-data and
// polled to COMPLETE, its run log with the manifest's outputs, its tasks page by page, the run list page by page, and a
// second run (its samplesheet attached) cancelled to CANCELED. Every WES answer is checked against the official
// document; refusals are ErrorResponses; the runs are platform runs on the native API too.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { WES_STATE_OF } from '../../api/src/domain/wes-states.js';
import { freePort } from '../helpers/net.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';
import { loadWesSpec, referenceDir } from './wes-spec.js';

const workflows = path.join(repoRoot, 'workflows');
const PREFIX = '/ga4gh/wes/v1';

/** The document path an actual WES URL answers for. */
const docPath = (url: string) =>
  url
    .replace(/^\/runs\/[^/]+\/tasks\/[^/]+$/, '/runs/{run_id}/tasks/{task_id}')
    .replace(/^\/runs\/[^/?]+(?=\/|$)/, '/runs/{run_id}')
    .split('?')[0]!;

t.test(
  'a WES client flow against the official 1.1 document',
  {
    skip:
      (!referenceDir && 'the GA4GH reference documents (../shared/reference) are not there') ||
      (!existsSync(path.join(workflows, 'main.nf')) && 'workflows/main.nf is not there yet'),
  },
  async (t) => {
    const spec = await loadWesSpec(referenceDir!);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const p = await platformFor(t, { pipeline: repoRoot, workflowsDir: workflows, port, publicUrl: base });
    await p.app.listen({ host: '127.0.0.1', port });
    let checked = 0;
    const problems: string[] = [];

    /** One WES request over HTTP; its answer must conform to the document (and be an ErrorResponse when it fails). */
    const wes = async (method: 'GET' | 'POST', url: string, body?: FormData | string, headers: Record<string, string> = {}) => {
      const r = await fetch(`${base}${PREFIX}${url}`, { method, body, headers });
      const json = await r.json();
      const op = `${method} ${docPath(url)}`;
      const problem = spec.check(op, r.status, json);
      if (problem) problems.push(`${op} ${r.status}: ${problem}`);
      // The document requires no ErrorResponse field: ours always carry both.
      if (r.status >= 400 && (typeof json.msg !== 'string' || json.status_code !== r.status))
        problems.push(`${op} ${r.status}: not a full ErrorResponse: ${JSON.stringify(json)}`);
      checked++;
      return { status: r.status, json };
    };
    const form = (fields: Record<string, string | object>, sheet?: string) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      if (sheet !== undefined) f.append('workflow_attachment', new Blob([sheet], { type: 'text/csv' }), 'samplesheet.csv');
      return f;
    };
    const submission = { workflow_type: 'NFL', workflow_type_version: 'DSL2', workflow_url: 'scrna-platform' };

    // service-info: the workflow type, the WES version, a count for every state, the engine and its parameters.
    const info = (await wes('GET', '/service-info')).json;
    t.equal(spec.checkService(info), null, 'service-info conforms to GA4GH service-info 1.0');
    t.same(info.workflow_type_versions, { NFL: { workflow_type_version: ['DSL2'] } });
    t.same(info.supported_wes_versions, ['1.1.0']);
    t.same(Object.keys(info.system_state_counts).sort(), [...spec.states].sort(), 'a count for every WES state');
    const pom = await readFile(path.join(repoRoot, 'scripts/nextflow/pom.xml'), 'utf8');
    t.same(info.workflow_engine_versions, { nextflow: { workflow_engine_version: [/<nextflow\.version>([^<]+)</.exec(pom)![1]] } });
    const manifestName = /manifest\s*\{[^}]*\bname\s*=\s*'([^']+)'/.exec(
      await readFile(path.join(repoRoot, 'nextflow.config'), 'utf8'),
    )![1];
    t.equal(info.tags.workflow_url, manifestName, "workflow_url is the pipeline's manifest name");
    t.same(
      info.default_workflow_engine_parameters.map((x: { name: string }) => x.name),
      ['profile'],
    );

    // Refusals: not multipart, another workflow, an engine parameter off the allow-list, params the schema refuses.
    t.equal((await wes('POST', '/runs', JSON.stringify(submission), { 'content-type': 'application/json' })).status, 415);
    const other = await wes('POST', '/runs', form({ ...submission, workflow_url: 'https://example.org/other.nf' }));
    t.equal(other.status, 400);
    t.match(other.json.msg, /^workflow_url: /);
    const engine = await wes('POST', '/runs', form({ ...submission, workflow_engine_parameters: { 'with-tower': 'x' } }));
    t.equal(engine.status, 400);
    t.match(engine.json.msg, /workflow_engine_parameters\.with-tower/);
    const bad = { counter: 'nope', expected_cells: 0 };
    const refused = await wes(
      'POST',
      '/runs',
      form({ ...submission, workflow_params: bad, workflow_engine_parameters: { profile: 'test' } }),
    );
    const native = await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload: { params: bad, profiles: ['test'] } });
    t.equal(refused.status, 400);
    const nativeError = native.json().errors[0];
    t.equal(
      refused.json.msg,
      `${nativeError.field.replace(/^params/, 'workflow_params')}: ${nativeError.message}`,
      'the native refusal, in WES terms',
    );
    t.equal((await wes('POST', '/runs', form({ ...submission, workflow_params: '{"a":' }))).status, 400);
    const outside = await wes('POST', '/runs', form(submission, 'sample,fastq_1,fastq_2\nS1,/etc/S1_R1.fastq.gz,/etc/S1_R2.fastq.gz\n'));
    t.equal(outside.status, 400);
    t.match(
      outside.json.msg,
      /^workflow_attachment, line 2, column fastq_1: fastq_1 must be inside a data root/,
      'samplesheet paths are held to the data roots',
    );
    t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 0, 'nothing refused was stored');

    // The run: the test profile, submitted as multipart with tags.
    const a = await wes(
      'POST',
      '/runs',
      form({ ...submission, workflow_params: {}, workflow_engine_parameters: { profile: 'test' }, tags: { lims_id: 'L-1' } }),
    );
    t.equal(a.status, 200);
    const runA = a.json.run_id as string;

    // A second run with its samplesheet attached (inside the data roots), cancelled while it starts.
    const fastqs = path.join(p.dataDir, 'inbox');
    await mkdir(fastqs, { recursive: true });
    for (const r of ['R1', 'R2']) await writeFile(path.join(fastqs, `S1_S1_L001_${r}_001.fastq.gz`), '');
    const sheet = `sample,fastq_1,fastq_2\nS1,${fastqs}/S1_S1_L001_R1_001.fastq.gz,${fastqs}/S1_S1_L001_R2_001.fastq.gz\n`;
    const b = await wes(
      'POST',
      '/runs',
      form({ ...submission, workflow_params: { input: 'samplesheet.csv' }, tags: { lims_id: 'L-2' } }, sheet),
    );
    t.equal(b.status, 200, b.json.msg);
    const runB = b.json.run_id as string;
    const nativeB = (await p.app.inject({ url: `/api/v1/runs/${runB}` })).json();
    t.equal(nativeB.samplesheet, sheet, 'the attachment is the run samplesheet');
    t.equal(await readFile(path.join(nativeB.launchDir, 'samplesheet.csv'), 'utf8'), sheet, 'staged in the launch directory');
    t.ok(['QUEUED', 'INITIALIZING', 'RUNNING'].includes((await wes('GET', `/runs/${runB}/status`)).json.state), 'B is still active');
    t.same((await wes('POST', `/runs/${runB}/cancel`)).json, { run_id: runB });
    t.same((await wes('GET', `/runs/${runB}/status`)).json, { run_id: runB, state: 'CANCELED' });
    t.equal((await wes('POST', `/runs/${runB}/cancel`)).status, 409, 'an ended run cannot be cancelled again');

    // Poll A to a terminal state.
    let state = '';
    for (let i = 0; i < 20 * 60 && !['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'].includes(state); i++) {
      if (i) await sleep(1000);
      state = (await wes('GET', `/runs/${runA}/status`)).json.state;
    }
    if (state !== 'COMPLETE') {
      t.fail(`run ended ${state}: ${(await p.app.inject({ url: `/api/v1/runs/${runA}/log` })).body.slice(-3000)}`);
      return;
    }

    // The run log: the request it stands for, the state, the outputs the manifest lists (ingested just after COMPLETE).
    let log = (await wes('GET', `/runs/${runA}`)).json;
    for (let i = 0; i < 60 && !Object.keys(log.outputs).length; i++) {
      await sleep(500);
      log = (await wes('GET', `/runs/${runA}`)).json;
    }
    t.equal(log.state, 'COMPLETE');
    t.match(log.request, { ...submission, tags: { lims_id: 'L-1' }, workflow_engine_parameters: { profile: 'test' } });
    t.equal(log.run_log.exit_code, 0);
    const listed = (await p.app.inject({ url: `/api/v1/runs/${runA}/outputs` })).json().items as { path: string; sha256: string }[];
    t.ok(listed.length > 0, `${listed.length} outputs in the manifest`);
    t.same(Object.keys(log.outputs).sort(), listed.map((o) => o.path).sort(), "the outputs are the manifest's");
    const one = listed.find((o) => o.path.endsWith('.json')) ?? listed[0]!;
    const bytes = Buffer.from(await (await fetch(log.outputs[one.path].url)).arrayBuffer());
    t.equal(createHash('sha256').update(bytes).digest('hex'), one.sha256, 'an output downloads from its URL with its checksum');

    // Its tasks, two per page, by following next_page_token from task_logs_url.
    t.equal(log.task_logs_url, `${base}${PREFIX}/runs/${runA}/tasks`);
    const taskIds: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = (await wes('GET', `/runs/${runA}/tasks?page_size=2${token ? `&page_token=${token}` : ''}`)).json;
      t.ok(page.task_logs.length <= 2);
      taskIds.push(...page.task_logs.map((x: { id: string }) => x.id));
      token = page.next_page_token;
      pages++;
    } while (token && pages < 100);
    const nativeTasks = (await p.app.inject({ url: `/api/v1/runs/${runA}/tasks?limit=1000` })).json().items as { task_id: number }[];
    t.same(
      taskIds,
      nativeTasks.map((x) => String(x.task_id)).sort((x, y) => Number(x) - Number(y)),
      'every task once, in order',
    );
    t.equal(pages, Math.ceil(nativeTasks.length / 2));
    const task = (await wes('GET', `/runs/${runA}/tasks/${taskIds[0]}`)).json;
    t.equal(task.id, taskIds[0]);
    t.equal(task.exit_code, 0);
    t.equal((await wes('GET', `/runs/${runA}/tasks/999999`)).status, 404);
    t.equal((await wes('GET', `/runs/${runA}/tasks?page_token=forged`)).status, 400);

    // The list, one run per page: newest first, then the other, which says it is the last.
    const first = (await wes('GET', '/runs?page_size=1')).json;
    t.same(
      first.runs.map((r: { run_id: string }) => r.run_id),
      [runB],
    );
    t.ok(first.next_page_token, 'a token for the next page');
    const second = (await wes('GET', `/runs?page_size=1&page_token=${first.next_page_token}`)).json;
    t.same(
      second.runs.map((r: { run_id: string }) => r.run_id),
      [runA],
    );
    t.match(second.runs[0], { state: 'COMPLETE', tags: { lims_id: 'L-1' } });
    t.equal(second.next_page_token, '', 'no page after the last');
    t.same((await wes('GET', '/runs?page_size=500')).json.runs.length, 2);
    t.equal((await wes('GET', '/runs?page_token=forged')).status, 400);

    // The same runs on the native API, in the states the one table maps.
    for (const [id, labels] of [
      [runA, { lims_id: 'L-1' }],
      [runB, { lims_id: 'L-2' }],
    ] as const) {
      const r = (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
      t.same(r.labels, labels);
      t.equal(WES_STATE_OF[r.status as keyof typeof WES_STATE_OF], (await wes('GET', `/runs/${id}/status`)).json.state);
    }
    const counts = (await wes('GET', '/service-info')).json.system_state_counts;
    t.match(counts, { COMPLETE: 1, CANCELED: 1, RUNNING: 0 });

    // Unknown runs and routes are ErrorResponses too.
    t.equal((await wes('GET', `/runs/${crypto.randomUUID()}`)).status, 404);
    t.equal((await wes('GET', '/runs/not-a-uuid/status')).status, 404);
    const unknown = await fetch(`${base}${PREFIX}/nothing-here`);
    t.same([unknown.status, (await unknown.json()).status_code], [404, 404]);
    t.same(problems, [], `${checked} WES answers conform to the official document`);
    t.ok(checked > 30);
  },
);

t.test(
  'every WES operation is served, documented and tagged; malformed forms are precise 4xx',
  { skip: !referenceDir && 'no reference documents' },
  async (t) => {
    const spec = await loadWesSpec(referenceDir!);
    const p = await platformFor(t, { workflowsDir: workflows });
    await p.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
    const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
    const ours = Object.entries(doc.paths as Record<string, Record<string, { tags: string[] }>>)
      .filter(([route]) => route.startsWith(PREFIX))
      .flatMap(([route, ops]) =>
        Object.entries(ops).map(([m, o]) => ({ op: `${m.toUpperCase()} ${route.slice(PREFIX.length)}`, tags: o.tags })),
      );
    t.same(ours.map((o) => o.op).sort(), [...spec.operations].sort(), 'the operations of the official document, no more');
    t.ok(
      ours.every((o) => o.tags.includes('WES')),
      'tagged WES',
    );

    const problems: string[] = [];
    const post = async (body: BodyInit, headers: Record<string, string> = {}) => {
      const r = await fetch(`${base}${PREFIX}/runs`, { method: 'POST', body, headers });
      const json = await r.json();
      const problem = spec.check('POST /runs', r.status, json);
      if (problem || json.status_code !== r.status) problems.push(`${r.status}: ${problem ?? JSON.stringify(json)}`);
      return { status: r.status, msg: json.msg as string };
    };
    const fields = { workflow_type: 'NFL', workflow_type_version: 'DSL2', workflow_url: 'scrna-platform' };
    const form = (extra: (f: FormData) => void = () => {}) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      extra(f);
      return f;
    };
    const file = (text: string, name = 'samplesheet.csv') => [new Blob([text]), name] as const;
    const cases: [string, BodyInit, number, RegExp, Record<string, string>?][] = [
      [
        'no workflow_url',
        (() => {
          const f = form();
          f.delete('workflow_url');
          return f;
        })(),
        400,
        /^workflow_url: is required/,
      ],
      ['a field twice', form((f) => f.append('workflow_type', 'NFL')), 400, /^workflow_type: sent more than once/],
      ['an unknown field', form((f) => f.append('workflow_name', 'x')), 400, /^workflow_name: not a RunRequest field/],
      ['a file in another field', form((f) => f.append('tags', ...file('x'))), 400, /^tags: only workflow_attachment/],
      [
        'two attachments',
        form((f) => {
          f.append('workflow_attachment', ...file('a'));
          f.append('workflow_attachment', ...file('b', 'b.csv'));
        }),
        400,
        /^workflow_attachment: attach one file/,
      ],
      [
        'a parent reference',
        form((f) => f.append('workflow_attachment', ...file('a', '../sheet.csv'))),
        400,
        /^workflow_attachment: '..\/sheet.csv'/,
      ],
      [
        'an attachment that is not UTF-8',
        form((f) => f.append('workflow_attachment', new Blob([new Uint8Array([0xff, 0xfe, 0x00])]), 's.csv')),
        400,
        /not UTF-8/,
      ],
      [
        'input naming no attachment',
        form((f) => f.append('workflow_params', '{"input":"/data/sheet.csv"}')),
        400,
        /^workflow_params.input: /,
      ],
      [
        'params nested too deep',
        form((f) => f.append('workflow_params', `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`)),
        400,
        /^workflow_params: JSON nested deeper/,
      ],
      ['params not an object', form((f) => f.append('workflow_params', '[1]')), 400, /^workflow_params: must be a JSON object/],
      ['tags that are not strings', form((f) => f.append('tags', '{"n":1}')), 400, /^tags.n: must be a string/],
      ['a bad label key', form((f) => f.append('tags', '{"bad key":"v"}')), 400, /^tags\.bad key: label keys/],
      [
        'a profile off the list',
        form((f) => f.append('workflow_engine_parameters', '{"profile":"test,awsbatch"}')),
        400,
        /^workflow_engine_parameters\.profile: profile must be one of/,
      ],
      [
        'a bad samplesheet',
        form((f) => f.append('workflow_attachment', ...file('sample,nope\nS1,x\n'))),
        400,
        /^workflow_attachment, line 1, column nope: unknown column/,
      ],
      ['another engine', form((f) => f.append('workflow_engine', 'cromwell')), 400, /^workflow_engine: /],
      [
        'another DSL',
        (() => {
          const f = form();
          f.set('workflow_type_version', 'DSL1');
          return f;
        })(),
        400,
        /^workflow_type_version: /,
      ],
      [
        'CWL',
        (() => {
          const f = form();
          f.set('workflow_type', 'CWL');
          return f;
        })(),
        400,
        /^workflow_type: /,
      ],
      [
        'an attachment over the samplesheet limit',
        form((f) => f.append('workflow_attachment', ...file('a'.repeat(10_000_001)))),
        413,
        /10000000 characters/,
      ],
      ['no boundary', 'x', 400, /^body: not a well-formed multipart form/, { 'content-type': 'multipart/form-data' }],
      [
        'a body cut short',
        '--b\r\ncontent-disposition: form-data; name="workflow_type"\r\n\r\nNF',
        400,
        /^body: /,
        { 'content-type': 'multipart/form-data; boundary=b' },
      ],
      ['urlencoded', 'workflow_type=NFL', 415, /./, { 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [what, body, status, msg, headers] of cases) {
      const r = await post(body, headers);
      t.equal(r.status, status, `${what}: ${r.msg}`);
      t.match(r.msg, msg);
    }
    for (const q of ['page_size=0', 'page_size=x', `page_token=${'t'.repeat(201)}`]) {
      const r = await fetch(`${base}${PREFIX}/runs?${q}`);
      const json = await r.json();
      t.equal(r.status, 400, `GET /runs?${q.slice(0, 20)}: ${json.msg}`);
      const problem = spec.check('GET /runs', r.status, json);
      if (problem || json.status_code !== 400) problems.push(`GET /runs?${q}: ${problem ?? JSON.stringify(json)}`);
    }
    t.same(problems, [], 'every refusal is a WES ErrorResponse');
    t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 0, 'nothing was stored');
  },
);
