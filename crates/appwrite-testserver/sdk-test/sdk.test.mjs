// Runs Appwrite's official JavaScript SDKs against the appwrite-testserver binary, once per
// version profile, each with the node-appwrite and web SDK releases made for that Appwrite
// version (npm aliases in package.json). APPWRITE_TESTSERVER_BIN must point to the built binary
// (run-tests sets it); APPWRITE_TESTSERVER_VERSION=<profile> runs only that profile.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const PROJECT = 'leadboard';
const KEY = 'sdk-test-key';
const DB = 'main';
const LEADS = 'leads';

/** Profiles, oldest first; `rank` orders them for "from version X on" checks. */
const PROFILES = ['1.5', '1.6.0', '1.7', '1.8', '1.9.0', '1.9.6'];
const selected = process.env.APPWRITE_TESTSERVER_VERSION;
if (selected && !PROFILES.includes(selected)) {
  throw new Error(`APPWRITE_TESTSERVER_VERSION=${selected} is not one of ${PROFILES.join(', ')}`);
}
const rank = (version) => PROFILES.indexOf(version);

// The web SDK's Realtime client needs browser globals: a WebSocket (Node 20 has none),
// `window` timers and `localStorage`. Its timers must not keep the test process alive.
globalThis.WebSocket ??= WebSocket;
const unref = (timer) => { timer.unref?.(); return timer; };
const storage = new Map();
globalThis.window ??= {
  setTimeout: (...args) => unref(setTimeout(...args)),
  setInterval: (...args) => unref(setInterval(...args)),
  clearTimeout,
  clearInterval,
  console,
  localStorage: {
    getItem: (key) => storage.get(key) ?? null,
    setItem: (key, value) => storage.set(key, String(value)),
    removeItem: (key) => storage.delete(key),
  },
};

for (const version of PROFILES.filter((v) => !selected || v === selected)) {
  const load = (name) => import(name).catch((error) => {
    throw new Error(`${name} is missing: run npm ci in sdk-test (${error.message})`);
  });
  const sdk = await load(`node-appwrite-${version}`);
  const web = await load(`appwrite-${version}`);
  describe(`Appwrite ${version}`, () => profile(version, sdk, web));
}

function profile(version, sdk, web) {
  const { Client, Databases, Users, Account, Teams, Query, ID, Permission, Role, AppwriteException } = sdk;
  let server;
  let endpoint;

  before(async () => {
    const bin = process.env.APPWRITE_TESTSERVER_BIN;
    assert.ok(bin, 'set APPWRITE_TESTSERVER_BIN');
    server = spawn(bin, ['--addr', '127.0.0.1:0', '--project', PROJECT, '--api-key', KEY, '--appwrite-version', version], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await new Promise((resolve, reject) => {
      server.once('error', reject);
      createInterface({ input: server.stdout }).once('line', (l) => resolve([l]));
    });
    const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
    assert.ok(match, `unexpected first line: ${line}`);
    endpoint = `${match[1]}/v1`;
  });

  after(() => server?.kill());

  const serverClient = () => new Client().setEndpoint(endpoint).setProject(PROJECT).setKey(KEY);
  const sessionClient = (secret) => new Client().setEndpoint(endpoint).setProject(PROJECT).setSession(secret);

  async function rejectsWith(promise, code, type) {
    await assert.rejects(promise, (error) => {
      assert.ok(error instanceof AppwriteException, `not an AppwriteException: ${error}`);
      assert.equal(error.code, code, error.message);
      assert.equal(error.type, type, error.message);
      return true;
    });
  }

  /** Idempotent setup, as a Leadboard setup command would do it: 409 means "already there". */
  async function ensure(promise) {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof AppwriteException && error.code === 409) return null;
      throw error;
    }
  }

  async function setup() {
    const databases = new Databases(serverClient());
    await ensure(databases.create(DB, 'Main'));
    await ensure(
      databases.createCollection(DB, LEADS, 'Leads', [Permission.create(Role.users())], true),
    );
    await ensure(databases.createStringAttribute(DB, LEADS, 'name', 64, true));
    await ensure(databases.createStringAttribute(DB, LEADS, 'status', 16, false, 'open'));
    await ensure(databases.createIntegerAttribute(DB, LEADS, 'value', false, 0, 1000000));
    await ensure(databases.createBooleanAttribute(DB, LEADS, 'hot', false));
    await ensure(databases.createDatetimeAttribute(DB, LEADS, 'closedAt', false));
    await ensure(databases.createIndex(DB, LEADS, 'status_key', 'key', ['status']));
    return databases;
  }

  test('setup is idempotent and reports Appwrite error types', async () => {
    const databases = await setup();
    await setup();
    await rejectsWith(databases.create(DB, 'Main'), 409, 'database_already_exists');
    await rejectsWith(databases.createCollection(DB, LEADS, 'Leads'), 409, 'collection_already_exists');
    await rejectsWith(databases.createStringAttribute(DB, LEADS, 'name', 64, true), 409, 'attribute_already_exists');
    const attributes = await databases.listAttributes(DB, LEADS);
    assert.equal(attributes.total, 5);
    assert.ok(attributes.attributes.every((a) => a.status === 'available'));
    const collection = await databases.getCollection(DB, LEADS);
    assert.equal(collection.documentSecurity, true);
    assert.deepEqual(collection.$permissions, ['create("users")']);
  });

  test('documents: create, get, list with Query, update, delete', async () => {
    const databases = await setup();
    const created = await databases.createDocument(DB, LEADS, 'sdk-1', { name: 'Ada', value: 10 });
    assert.equal(created.$id, 'sdk-1');
    assert.equal(created.status, 'open');
    // `$sequence`: absent before 1.8, a number on 1.8, a string from 1.9.0.
    const sequence = rank(version) < rank('1.8') ? 'undefined' : version === '1.8' ? 'number' : 'string';
    assert.equal(typeof created.$sequence, sequence);
    assert.match(created.$createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
    await rejectsWith(
      databases.createDocument(DB, LEADS, 'sdk-1', { name: 'again' }),
      409,
      'document_already_exists',
    );
    const generated = await databases.createDocument(DB, LEADS, ID.unique(), { name: 'Bo', value: 20, status: 'won' });
    await databases.createDocument(DB, LEADS, 'sdk-3', { name: 'Cy', value: 30, hot: true });

    const fetched = await databases.getDocument(DB, LEADS, 'sdk-1');
    assert.equal(fetched.name, 'Ada');
    await rejectsWith(databases.getDocument(DB, LEADS, 'missing'), 404, 'document_not_found');
    await rejectsWith(databases.createDocument(DB, LEADS, 'bad', { name: 1 }), 400, 'document_invalid_structure');
    await rejectsWith(databases.createDocument(DB, LEADS, 'bad', { nope: 'x', name: 'x' }), 400, 'document_invalid_structure');

    const open = await databases.listDocuments(DB, LEADS, [
      Query.equal('status', 'open'),
      Query.greaterThan('value', 5),
      Query.orderDesc('value'),
    ]);
    assert.equal(open.total, 2);
    assert.deepEqual(open.documents.map((d) => d.$id), ['sdk-3', 'sdk-1']);
    const page = await databases.listDocuments(DB, LEADS, [Query.orderAsc('value'), Query.limit(1), Query.cursorAfter('sdk-1')]);
    assert.deepEqual(page.documents.map((d) => d.$id), [generated.$id]);
    const notHot = await databases.listDocuments(DB, LEADS, [Query.isNull('hot'), Query.lessThan('value', 25)]);
    assert.equal(notHot.total, 2);
    await rejectsWith(databases.listDocuments(DB, LEADS, [Query.equal('nope', 'x')]), 400, 'general_query_invalid');

    const updated = await databases.updateDocument(DB, LEADS, 'sdk-1', { status: 'won' });
    assert.equal(updated.status, 'won');
    assert.equal(updated.value, 10, 'partial update keeps other attributes');
    await databases.deleteDocument(DB, LEADS, 'sdk-1');
    await rejectsWith(databases.getDocument(DB, LEADS, 'sdk-1'), 404, 'document_not_found');
  });

  test('users, email sessions and per-user permissions', async () => {
    const databases = await setup();
    const users = new Users(serverClient());
    const user = await users.create('employee-1', 'employee1@example.com', undefined, 'password123', 'Employee One');
    assert.equal(user.email, 'employee1@example.com');
    await rejectsWith(users.create('employee-1', 'other@example.com'), 409, 'user_already_exists');

    const serverAccount = new Account(serverClient());
    await rejectsWith(
      serverAccount.createEmailPasswordSession('employee1@example.com', 'wrong-password'),
      401,
      'user_invalid_credentials',
    );
    const session = await serverAccount.createEmailPasswordSession('employee1@example.com', 'password123');
    assert.equal(session.userId, 'employee-1');
    assert.ok(session.secret, 'API-key callers get the session secret');

    const employee = sessionClient(session.secret);
    assert.equal((await new Account(employee).get()).$id, 'employee-1');
    const mine = await new Databases(employee).createDocument(DB, LEADS, 'mine', { name: 'Mine' });
    assert.deepEqual(mine.$permissions, [
      'read("user:employee-1")',
      'update("user:employee-1")',
      'delete("user:employee-1")',
    ]);
    await databases.createDocument(DB, LEADS, 'hidden', { name: 'Hidden' }, [Permission.read(Role.user('someone-else'))]);
    await rejectsWith(new Databases(employee).getDocument(DB, LEADS, 'hidden'), 404, 'document_not_found');
    await rejectsWith(
      new Databases(employee).updateDocument(DB, LEADS, 'hidden', { status: 'won' }),
      401,
      'user_unauthorized',
    );

    const teams = new Teams(serverClient());
    await teams.create('sales', 'Sales');
    const membership = await teams.createMembership('sales', ['member'], undefined, 'employee-1');
    assert.equal(membership.confirm, true);
    await databases.createDocument(DB, LEADS, 'team-lead', { name: 'Team' }, [Permission.read(Role.team('sales'))]);
    assert.equal((await new Databases(employee).getDocument(DB, LEADS, 'team-lead')).name, 'Team');
  });

  test('users admin: list, block, password, sessions, memberships', async () => {
    const users = new Users(serverClient());
    const account = new Account(serverClient());
    await users.create('staff-1', 'staff1@example.com', undefined, 'password123', 'Staff One');
    const listed = await users.list([Query.equal('email', 'staff1@example.com')]);
    assert.deepEqual(listed.users.map((u) => u.$id), ['staff-1']);

    const { secret } = await account.createEmailPasswordSession('staff1@example.com', 'password123');
    const blocked = await users.updateStatus('staff-1', false);
    assert.equal(blocked.status, false);
    const blockedStatus = rank(version) >= rank('1.9.0') ? 403 : 401;
    await rejectsWith(new Account(sessionClient(secret)).get(), blockedStatus, 'user_blocked');
    await rejectsWith(account.createEmailPasswordSession('staff1@example.com', 'password123'), blockedStatus, 'user_blocked');
    await users.updateStatus('staff-1', true);
    assert.equal((await new Account(sessionClient(secret)).get()).$id, 'staff-1');

    await rejectsWith(users.updatePassword('staff-1', 'short'), 400, 'general_argument_invalid');
    await users.updatePassword('staff-1', 'new-password-1');
    await rejectsWith(new Account(sessionClient(secret)).get(), 401, 'general_unauthorized_scope');
    const session = await account.createEmailPasswordSession('staff1@example.com', 'new-password-1');
    await users.deleteSession('staff-1', session.$id);
    await rejectsWith(users.deleteSession('staff-1', session.$id), 404, 'user_session_not_found');
    await users.deleteSessions('staff-1');

    const teams = new Teams(serverClient());
    await ensure(teams.create('staff', 'Staff'));
    const membership = await teams.createMembership('staff', ['member'], undefined, 'staff-1');
    await rejectsWith(
      teams.createMembership('staff', ['member'], undefined, 'staff-1'),
      409,
      rank(version) <= rank('1.6.0') ? 'team_invite_already_exists' : 'membership_already_confirmed',
    );
    const memberships = await users.listMemberships('staff-1');
    assert.deepEqual(memberships.memberships.map((m) => m.teamId), ['staff']);
    await teams.deleteMembership('staff', membership.$id);
    await rejectsWith(teams.deleteMembership('staff', membership.$id), 404, 'team_invite_not_found');
    assert.equal((await users.listMemberships('staff-1')).total, 0);
  });

  test('health reports the profile release', async () => {
    const body = await (await fetch(`${endpoint}/health/version`)).json();
    assert.ok(body.version.startsWith(version), `${body.version} for ${version}`);
  });

  test('transactions and increments from 1.8', { skip: rank(version) < rank('1.8') }, async () => {
    const databases = await setup();
    await databases.createDocument(DB, LEADS, 'txn-1', { name: 'T', value: 1 });
    const txn = await databases.createTransaction(60);
    assert.equal(txn.status, 'pending');
    await databases.updateDocument(DB, LEADS, 'txn-1', { status: 'won' }, undefined, txn.$id);
    assert.equal((await databases.getDocument(DB, LEADS, 'txn-1')).status, 'open', 'staged, not written');
    const committed = await databases.updateTransaction(txn.$id, true);
    assert.equal(committed.status, 'committed');
    assert.equal((await databases.getDocument(DB, LEADS, 'txn-1')).status, 'won');
    await rejectsWith(databases.updateTransaction(txn.$id, true), 400, 'transaction_not_ready');
    const bumped = await databases.incrementDocumentAttribute(DB, LEADS, 'txn-1', 'value', 1, 2);
    assert.equal(bumped.value, 2);
    await rejectsWith(databases.incrementDocumentAttribute(DB, LEADS, 'txn-1', 'value', 1, 2), 400, 'attribute_limit_exceeded');
  });

  test('web SDK Realtime receives document events for readable documents', async () => {
    const databases = await setup();
    const users = new Users(serverClient());
    await users.create('watcher', 'watcher@example.com', undefined, 'password123');
    const { secret } = await new Account(serverClient()).createEmailPasswordSession('watcher@example.com', 'password123');

    // Web SDKs before the 1.8 ones authenticate the socket only from the `cookieFallback`
    // that a browser without third-party cookies keeps; newer ones also use `setSession`.
    window.localStorage.setItem('cookieFallback', JSON.stringify({ [`a_session_${PROJECT}`]: secret }));
    const client = new web.Client().setEndpoint(endpoint).setProject(PROJECT).setSession(secret);
    const received = [];
    let notify;
    const unsubscribe = client.subscribe(`databases.${DB}.collections.${LEADS}.documents`, (event) => {
      received.push(event);
      notify?.();
    });
    const nextEvent = () => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no Realtime event within 3s')), 3000);
      notify = () => { clearTimeout(timer); resolve(received.shift()); };
      if (received.length) notify();
    });
    try {
      // Wait until the socket has authenticated (the SDK sends the session after `connected`).
      await new Promise((resolve) => setTimeout(resolve, 300));
      await databases.createDocument(DB, LEADS, 'secret-lead', { name: 'S' }, [Permission.read(Role.user('nobody'))]);
      await databases.createDocument(DB, LEADS, 'rt-lead', { name: 'R' }, [Permission.read(Role.users())]);
      const event = await nextEvent();
      assert.equal(event.payload.$id, 'rt-lead', 'the unreadable document was not delivered');
      assert.ok(event.events.includes(`databases.${DB}.collections.${LEADS}.documents.rt-lead.create`));
      assert.ok(event.events.includes('databases.*.collections.*.documents.*.create'));
      assert.ok(event.channels.includes('documents'));
    } finally {
      unsubscribe();
    }
  });
}
