"""kazoo worker: drives kazoo's Lock, ReadLock, WriteLock, Semaphore and Election recipes, exactly as Debian ships
them, through docs/worker-protocol.md.

One process is one client host: one KazooClient (one ZooKeeper session) per client id. Each request runs on a
thread of its own, so a blocked acquire never stalls another client; answers and events are single JSON lines
written under one lock. Run it with Debian's Python (/usr/bin/python3 -u): that is the one with kazoo.
"""
import json
import logging
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, LockTimeout, NoNodeError, SessionExpiredError
from kazoo.protocol.states import KazooState
from kazoo.recipe.lock import Lock, ReadLock, Semaphore, WriteLock
from kazoo.retry import KazooRetry, RetryFailedError

PROTOCOL_VERSION = 1
HTTP_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_FLOOR_S = 10.0
CLOSE_WAIT_S = 2.0  # within the runner's grace period before it kills a worker told to stop (3 s)
# Our own calls (the fence token lookup, release) retry through connection loss and session expiry for this
# many session timeouts, plus a margin for a loaded machine, before they answer `info`.
COMMAND_RETRY_SESSIONS = 3
COMMAND_RETRY_MARGIN_S = 2.0

# `error` strings with a fixed meaning: ANSWER_ERRORS in workloads/protocol.ts.
HELD, TIMEOUT, SESSION_EXPIRED, LOST = "held", "timeout", "session expired", "lost"
NOT_HELD, ALREADY_HELD, BUSY, REJECTED = "not held", "already held", "busy", "rejected"
ALREADY_CAMPAIGNING, NOT_CAMPAIGNING = "already campaigning", "not campaigning"

LIBRARY_ERRORS = (KazooException, RetryFailedError)

# acquire's `access` -> kazoo's recipe: none is the exclusive Lock, read and write the sides of the shared lock.
LOCK_CLASSES = {None: Lock, "read": ReadLock, "write": WriteLock}
# WORKER_FEATURES in workloads/protocol.ts. No downgrade: kazoo's ReadLock waits behind its own client's WriteLock.
FEATURES = ["read-write", "leader", "semaphore"]

log = logging.getLogger("kazoo-worker")


class BadRequest(Exception):
    """The request breaks the protocol: answered `error` (to its id, when it has one); the worker keeps serving."""

    def __init__(self, message, request_id=None):
        super().__init__(message)
        self.request_id = request_id


def answer(kind, error=None, **fields):
    """An answer without its in_reply_to; fields that are None are left out (the protocol has no nulls there)."""
    message = {"type": kind}
    if error is not None:
        message["error"] = error
    message.update((key, value) for key, value in fields.items() if value is not None)
    return message


def describe(error):
    return "%s %s" % (type(error).__name__, error) if str(error) else type(error).__name__


def session_hex(session_id):
    return None if not session_id else "0x%x" % session_id


class Output:
    """stdout: one JSON document per line, never interleaved. A reader that went away is not our problem."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message):
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                pass


# --- request validation: field -> (accepted JSON types, required) -----------------------------------------

STRING, INTEGER, OBJECT, ARRAY = (str,), (int,), (dict,), (list,)

REQUEST_FIELDS = {
    "init": {"protocolVersion": (INTEGER, True), "connect": (STRING, True), "sessionTimeoutMs": (INTEGER, True),
             "clients": (ARRAY, True), "lockRoot": (STRING, True), "options": (OBJECT, False)},
    "acquire": {"client": (STRING, True), "lock": (STRING, True), "mode": (STRING, True),
                "timeoutMs": (INTEGER, False), "access": (STRING, False), "permits": (INTEGER, False)},
    "release": {"client": (STRING, True), "lock": (STRING, True), "access": (STRING, False)},
    "fenced-write": {"client": (STRING, True), "lock": (STRING, False), "election": (STRING, False),
                     "resource": (STRING, True), "value": (INTEGER, True)},
    "read": {"client": (STRING, True), "resource": (STRING, True), "lock": (STRING, False),
             "election": (STRING, False)},
    "campaign": {"client": (STRING, True), "election": (STRING, True)},
    "resign": {"client": (STRING, True), "election": (STRING, True)},
}


def parse_request(line):
    """The request on `line`, checked against REQUEST_FIELDS; BadRequest names what is wrong."""
    try:
        request = json.loads(line)
    except ValueError as e:
        raise BadRequest("not JSON: %s" % e)
    if not isinstance(request, dict):
        raise BadRequest("a request is a JSON object")
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
        raise BadRequest("a request needs a non-negative integer id")
    try:
        check_fields(request)
    except BadRequest as e:
        raise BadRequest(str(e), request_id)
    return request


def check_fields(request):
    kind = request.get("type")
    fields = REQUEST_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise BadRequest("unknown request type %s" % json.dumps(kind))
    for name, (types, required) in fields.items():
        if name not in request:
            if required:
                raise BadRequest("%s: missing field %r" % (kind, name))
            continue
        value = request[name]
        # JSON true is no number, though Python's bool is an int.
        if isinstance(value, bool) or not isinstance(value, types):
            raise BadRequest("%s: field %r has the wrong type" % (kind, name))
    if kind == "acquire":
        if request["mode"] not in ("try", "blocking"):
            raise BadRequest("acquire: mode must be 'try' or 'blocking'")
        if request.get("timeoutMs", 1) <= 0:
            raise BadRequest("acquire: timeoutMs must be positive")
        if request.get("permits", 1) <= 0 or ("permits" in request and "access" in request):
            raise BadRequest("acquire: permits must be positive, and a semaphore has no sides")
    if kind == "fenced-write" and ("lock" in request) == ("election" in request):
        raise BadRequest("fenced-write: exactly one of 'lock' and 'election'")
    if kind in ("acquire", "release") and request.get("access") not in LOCK_CLASSES:
        raise BadRequest("%s: access must be 'read' or 'write' (or absent, the exclusive lock)" % kind)
    if kind == "init" and (not request["clients"] or not all(isinstance(c, str) for c in request["clients"])):
        raise BadRequest("init: clients must be a non-empty list of strings")


# --- one ZooKeeper session per client -----------------------------------------------------------------------

class Hold:
    """What a client believes it holds: kazoo's Lock object (needed to release), its node, token and session."""

    def __init__(self, lock, node, token, session):
        self.lock, self.node, self.token, self.session = lock, node, token, session


class Client:
    def __init__(self, client_id, connect, session_timeout_ms, output):
        self.id = client_id
        self.output = output
        self.session = None  # the session of the last `connected` event, reported again on disconnect/expiry
        self.expired = set()  # sessions this client saw expire
        self.announced = threading.Event()  # the first `connected` event is out
        self.closing = False
        self.busy = False
        self.holds = {}  # (lock name, access) -> Hold; access None is the exclusive lock
        self.candidacies = {}  # election -> Candidacy
        self.state_lock = threading.Lock()  # guards busy and holds
        timeout_s = self.session_timeout_s = session_timeout_ms / 1000.0
        retry_deadline_s = COMMAND_RETRY_SESSIONS * timeout_s + COMMAND_RETRY_MARGIN_S
        # The Lock recipe keeps its own retry policy, as shipped; this one bounds our token lookup and release.
        self.zk = KazooClient(hosts=connect, timeout=timeout_s,
                              command_retry=KazooRetry(max_tries=-1, deadline=retry_deadline_s, max_delay=1.0))
        self.zk.add_listener(self._on_state)

    def _on_state(self, state):
        """Runs on kazoo's connection thread, so it only records and reports."""
        if self.closing:
            return
        if state == KazooState.CONNECTED:
            self.session = self.live_session()
            event = "connected"
        elif state == KazooState.SUSPENDED:
            event = "disconnected"
        else:  # LOST: the session expired; kazoo goes on to connect with a new one
            event = "expired"
            self.expired.add(self.session)
        message = {"type": "event", "client": self.id, "event": event}
        if self.session is not None:
            message["session"] = self.session
        self.output.send(message)
        if event == "connected":
            self.announced.set()

    def live_session(self):
        client_id = self.zk.client_id
        return session_hex(client_id[0]) if client_id else None

    def current_session(self):
        return self.live_session() or self.session

    def session_ended(self, session):
        """Whether `session` is over: it expired (kazoo's LOST listener runs before any new session), or the
        client has another one now."""
        return session in self.expired or (self.live_session() or session) != session

    def contender_nodes(self, lock):
        """The nodes a given-up Lock attempt still has in the queue: its own, or, if the reply to its create was
        lost, any child named with its prefix. A Semaphore's attempt has one possible node, its lease."""
        if isinstance(lock, Semaphore):
            return [lock.create_path] if self.node_stat(lock.create_path) is not None else []
        if lock.node is not None:
            node = lock.path + "/" + lock.node
            return [node] if self.node_stat(node) is not None else []
        if not lock.create_tried:
            return []
        try:
            children = self.zk.retry(self.zk.get_children, lock.path)
        except NoNodeError:
            return []
        return [lock.path + "/" + child for child in children if child.startswith(lock.prefix)]

    def node_stat(self, node):
        """exists() through connection loss and session expiry, within the command retry's deadline."""
        return self.zk.retry(self.zk.exists, node)


class Candidacy:
    """A client's candidacy in one election: kazoo's Election.run on a thread of its own, which leads (runs its
    leadership function) until the resign. kazoo tells a leader nothing when its session goes: no leading-false
    event ever comes from it. Leadership events go out only once the campaign is answered (announce)."""

    def __init__(self, client, election, path):
        self.client, self.name = client, election
        self.election = client.zk.Election(path, client.id)
        self.resigning = threading.Event()
        self.flags = threading.Lock()  # guards announced, leading, resigned
        self.announced = self.leading = self.resigned = False
        self.token = self.node = self.session = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def _run(self):
        try:
            self.election.run(self._lead)
        except Exception as e:  # the election ended by an error: the client is no candidate any more
            log.warning("election %s of %s: %s", self.name, self.client.id, describe(e))

    def _lead(self):
        lock = self.election.lock
        node = lock.path + "/" + lock.node
        try:
            stat = self.client.node_stat(node)
        except LIBRARY_ERRORS as e:
            stat = None
            log.warning("elected in %s, but %s could not be read: %s", lock.path, node, describe(e))
        if stat is not None:
            with self.flags:
                if not self.resigned:
                    self.token, self.node, self.session = stat.czxid, node, session_hex(stat.ephemeralOwner)
                    self.leading = True
                    if self.announced:
                        self._send_leadership()
        self.resigning.wait()

    def announce(self):
        with self.flags:
            self.announced = True
            if self.leading:
                self._send_leadership()

    def leading_token(self):
        with self.flags:
            return self.token if self.leading else None

    def _send_leadership(self):
        self.client.output.send({"type": "event", "client": self.client.id, "event": "leadership", "election": self.name,
                                 "leading": True, "token": self.token, "node": self.node, "session": self.session})

    def resign(self):
        """Ends the leadership function, or cancels the waiting acquire; ok once the thread is done and no node of
        the attempt is left (kazoo's cleanup after a cancel swallows a failed delete: then info)."""
        with self.flags:
            self.resigned, self.leading = True, False
        self.resigning.set()
        self.election.cancel()
        self.thread.join(COMMAND_RETRY_SESSIONS * self.client.session_timeout_s + COMMAND_RETRY_MARGIN_S)
        if self.thread.is_alive():
            return answer("info", "resign: the election is still running", session=self.client.current_session())
        try:
            remaining = self.client.contender_nodes(self.election.lock)
        except LIBRARY_ERRORS as e:
            return answer("info", "resigned, but whether the candidate node is gone is unknown: %s" % describe(e),
                          session=self.client.current_session())
        if remaining:
            return answer("info", "resigned, but kazoo left %s in the queue" % ", ".join(remaining),
                          session=self.client.current_session())
        return answer("ok", session=self.client.current_session())


class Worker:
    def __init__(self, output):
        self.output = output
        self.clients = {}
        self.lock_root = None

    def init(self, request):
        if self.clients:
            raise BadRequest("init: already initialised")
        if request["protocolVersion"] != PROTOCOL_VERSION:
            raise BadRequest("init: protocol version %r; this worker speaks %d"
                             % (request["protocolVersion"], PROTOCOL_VERSION))
        try:
            clients = {cid: Client(cid, request["connect"], request["sessionTimeoutMs"], self.output)
                       for cid in request["clients"]}
        except (ValueError, KazooException) as e:
            raise BadRequest("init: %s" % describe(e))
        self.lock_root = request["lockRoot"].rstrip("/")
        self.clients = clients
        # All sessions connect at once: hundreds one after another would take seconds.
        for client in clients.values():
            client.zk.start_async()
        wait_s = max(CONNECT_TIMEOUT_FLOOR_S, 3 * request["sessionTimeoutMs"] / 1000.0)
        deadline = time.monotonic() + wait_s
        unconnected = [c.id for c in clients.values() if not c.announced.wait(max(0.0, deadline - time.monotonic()))]
        if unconnected:
            return answer("error", "could not connect %d of %d clients to %s within %.0f s (first: %s)"
                          % (len(unconnected), len(clients), request["connect"], wait_s, unconnected[0]))
        return answer("init_ok", features=FEATURES)

    def perform(self, request):
        """Runs one lock or resource request for its client, which has no other request in progress."""
        client = self.clients[request["client"]]
        kind = request["type"]
        if kind == "acquire":
            return self.acquire(client, request)
        if kind == "campaign":
            return self.campaign(client, request["election"])
        if kind == "resign":
            candidacy = client.candidacies.pop(request["election"], None)
            if candidacy is None:
                return answer("fail", NOT_CAMPAIGNING, session=client.current_session())
            return candidacy.resign()
        if "election" in request:
            # A leader's read and write carry its leadership token.
            candidacy = client.candidacies.get(request["election"])
            token = None if candidacy is None else candidacy.leading_token()
            if kind == "read":
                return read_resource(request["resource"], client.id, token)
            if token is None:
                return answer("fail", NOT_CAMPAIGNING, session=client.current_session())
            return write_resource(request["resource"], client.id, token, candidacy.session, request["value"])
        key = (request.get("lock"), request.get("access"))
        with client.state_lock:
            hold = client.holds.get(key)
        if kind == "read":
            # The hold's token goes with the read, so that the resource fences older holders off from here on.
            return read_resource(request["resource"], client.id, None if hold is None else hold.token)
        if hold is None:
            return answer("fail", NOT_HELD, session=client.current_session())
        if kind == "release":
            return self.release(client, key, hold)
        if hold.token is None:
            return answer("fail", "no fence token: the acquire could not read one", session=hold.session)
        return write_resource(request["resource"], client.id, hold.token, hold.session, request["value"])

    def campaign(self, client, election):
        if election in client.candidacies:
            return answer("fail", ALREADY_CAMPAIGNING, session=client.current_session())
        candidacy = Candidacy(client, election, self.lock_root + "/" + election)
        client.candidacies[election] = candidacy
        candidacy.start()
        return answer("ok", session=client.current_session())

    def acquire(self, client, request):
        name, access = request["lock"], request.get("access")
        key = (name, access)
        with client.state_lock:
            if key in client.holds:
                return answer("fail", ALREADY_HELD, session=client.current_session())
        # A fresh Lock object per attempt, as in kazoo issue #732's report; a Semaphore of `permits` leases likewise.
        path = self.lock_root + "/" + name
        if "permits" in request:
            lock = client.zk.Semaphore(path, client.id, max_leases=request["permits"])
        else:
            lock = LOCK_CLASSES[access](client.zk, path)
        try:
            if request["mode"] == "try":
                acquired, refusal = lock.acquire(blocking=False), HELD
            else:
                timeout_ms = request.get("timeoutMs")
                timeout_s = None if timeout_ms is None else timeout_ms / 1000.0
                acquired, refusal = lock.acquire(blocking=True, timeout=timeout_s), TIMEOUT
        except LockTimeout:
            acquired, refusal = False, TIMEOUT
        except SessionExpiredError:
            return answer("fail", SESSION_EXPIRED, session=client.current_session())
        except LIBRARY_ERRORS as e:
            return answer("info", "acquire: %s" % describe(e), session=client.current_session())
        if not acquired:
            return self.gave_up(client, lock, refusal)
        node = lock.create_path if isinstance(lock, Semaphore) else lock.path + "/" + lock.node
        hold = Hold(lock, node, None, client.current_session())
        with client.state_lock:
            client.holds[key] = hold
        # The fence token: the czxid of our own lock node, read right after acquiring.
        try:
            stat = client.node_stat(node)
        except LIBRARY_ERRORS as e:
            return answer("info", "acquired, but the fence token could not be read: %s" % describe(e),
                          node=node, session=hold.session)
        if stat is None:
            return answer("info", "acquired, but the lock node was gone before its token could be read",
                          node=node, session=hold.session)
        hold.token, hold.session = stat.czxid, session_hex(stat.ephemeralOwner)
        return answer("ok", token=hold.token, node=node, session=hold.session)

    def gave_up(self, client, lock, refusal):
        """kazoo gave up the attempt: `fail` only once its contender node is surely gone. kazoo's cleanup delete
        swallows a connection loss (issue #732), and a node left in the queue may become the holder: `info`."""
        try:
            remaining = client.contender_nodes(lock)
        except LIBRARY_ERRORS as e:
            return answer("info", "%s, but whether the contender node is gone is unknown: %s" % (refusal, describe(e)),
                          session=client.current_session())
        if remaining:
            return answer("info", "%s, but kazoo's cleanup left %s in the queue" % (refusal, ", ".join(remaining)),
                          session=client.current_session())
        return answer("fail", refusal, session=client.current_session())

    def release(self, client, key, hold):
        # Whatever the answer, the client no longer believes it holds the lock.
        with client.state_lock:
            client.holds.pop(key, None)
        # kazoo's release says True even when the node already went with an expired session: look first.
        try:
            stat = client.node_stat(hold.node)
            lost = stat is None or session_hex(stat.ephemeralOwner) != hold.session
        except LIBRARY_ERRORS as e:
            lost = None
            log.warning("release %s of %s: could not look at %s first: %s", key[0], client.id, hold.node, describe(e))
        try:
            hold.lock.release()
        except LIBRARY_ERRORS as e:
            return answer("info", "release: %s" % describe(e), session=client.current_session())
        if lost is None:
            return answer("info", "released, but whether the node was still ours is unknown",
                          session=client.current_session())
        if lost:
            return answer("fail", LOST, session=client.current_session())
        if client.session_ended(hold.session):
            # The node was ours a moment ago: our delete or the session's end removed it, nobody knows which.
            return answer("info", "the session ended during the release", session=client.current_session())
        return answer("ok", session=hold.session)

    def close(self):
        for client in self.clients.values():
            client.closing = True
        # Closing a session deletes its ephemeral nodes at once; each close waits for ZooKeeper's reply, so they
        # run side by side, within the runner's grace period (a session left open expires on its own).
        closers = [threading.Thread(target=stop_client, args=(client,), daemon=True) for client in self.clients.values()]
        for closer in closers:
            closer.start()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for closer in closers:
            closer.join(max(0.0, deadline - time.monotonic()))
        still_open = sum(closer.is_alive() for closer in closers)
        if still_open:
            log.warning("close: %d of %d sessions not closed within %.0f s; ZooKeeper will expire them",
                        still_open, len(closers), CLOSE_WAIT_S)


def stop_client(client):
    try:
        client.zk.stop()
        client.zk.close()
    except LIBRARY_ERRORS as e:
        log.warning("closing %s: %s", client.id, describe(e))


# --- the resource the runner names: HTTP, JSON both ways -------------------------------------------------

def http_json(url, body=None):
    """GET (no body) or POST JSON; returns (HTTP status, parsed JSON or None). Network errors raise OSError."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={} if body is None else {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, None


def write_resource(url, client_id, token, session, value):
    """The write with a hold's or a leader's token: accepted → ok; rejected → fail; no clear answer → info."""
    try:
        status, reply = http_json(url, {"client": client_id, "token": token, "value": value})
    except (OSError, ValueError) as e:
        return answer("info", "POST %s: %s" % (url, describe(e)), session=session)
    accepted = reply.get("accepted") if isinstance(reply, dict) else None
    if status != 200 or not isinstance(accepted, bool):
        return answer("info", "POST %s: HTTP %d without a verdict" % (url, status), session=session)
    return answer("ok", session=session) if accepted else answer("fail", REJECTED, session=session)


def read_resource(url, client_id, token):
    """A read changes no value (at most it raised the highest token seen), so a failed one is a fail, never info."""
    query = {"client": client_id} if token is None else {"client": client_id, "token": token}
    url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
    try:
        status, reply = http_json(url)
    except (OSError, ValueError) as e:
        return answer("fail", "GET %s: %s" % (url, describe(e)))
    value = reply.get("value") if isinstance(reply, dict) else None
    if status != 200 or isinstance(value, bool) or not isinstance(value, (int, float)):
        return answer("fail", "GET %s: HTTP %d without a numeric value" % (url, status))
    return answer("ok", value=value)


# --- the loop -------------------------------------------------------------------------------------------

def serve(worker, request):
    """Runs one request on its own thread, to exactly one answer, then frees its client for the next."""
    client = worker.clients[request["client"]]
    try:
        result = worker.perform(request)
    except Exception as e:  # a bug, or a library error nobody foresaw: the outcome is unknown
        log.exception("request %s", request["id"])
        result = answer("info", "worker: %s" % describe(e))
    finally:
        with client.state_lock:
            client.busy = False
    worker.output.send(dict(result, in_reply_to=request["id"]))
    if request["type"] == "campaign":
        # Its leadership events may go out from now on: after the campaign's answer.
        candidacy = client.candidacies.get(request["election"])
        if candidacy is not None:
            candidacy.announce()


def dispatch(worker, request):
    """init runs in line; anything else gets a thread, unless its client is busy or unknown."""
    if request["type"] == "init":
        return worker.init(request)
    if not worker.clients:
        raise BadRequest("%s before init" % request["type"])
    client = worker.clients.get(request["client"])
    if client is None:
        raise BadRequest("unknown client %s" % json.dumps(request["client"]))
    with client.state_lock:
        if client.busy:
            return answer("fail", BUSY, session=client.current_session())
        client.busy = True
    threading.Thread(target=serve, args=(worker, request), daemon=True).start()
    return None


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s kazoo-worker %(levelname)s %(name)s: %(message)s")
    # The protocol owns stdout: anything a library prints goes to stderr.
    output = Output(sys.stdout)
    sys.stdout = sys.stderr
    worker = Worker(output)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = parse_request(line)
        except BadRequest as e:
            output.send(dict(answer("error", str(e)), in_reply_to=e.request_id))
            continue
        try:
            result = dispatch(worker, request)
        except BadRequest as e:
            result = answer("error", str(e))
        if result is not None:
            output.send(dict(result, in_reply_to=request["id"]))
    worker.close()


if __name__ == "__main__":
    main()
