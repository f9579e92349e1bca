"""kazoo worker: drives kazoo's Lock recipe, exactly as Debian ships it, through docs/worker-protocol.md.

One process is one client host: one KazooClient (one ZooKeeper session) per client id. Requests run on their
own threads so that a blocked acquire never stalls another client; answers and events are single JSON lines
written under one lock. Run with Debian's Python (/usr/bin/python3 -u), the one that has kazoo.
"""
import json
import logging
import sys
import threading
import urllib.error
import urllib.request

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, LockTimeout
from kazoo.protocol.states import KazooState
from kazoo.recipe.lock import Lock
from kazoo.retry import KazooRetry, RetryFailedError

PROTOCOL_VERSION = 1
HTTP_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_FLOOR_S = 10.0

log = logging.getLogger("kazoo-worker")


class BadRequest(Exception):
    """The request does not follow the protocol: answered with `error`, the worker keeps serving."""


class Output:
    """stdout: one JSON document per line, never interleaved; a vanished reader is not our problem."""

    def __init__(self):
        self._lock = threading.Lock()

    def send(self, message):
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass


def session_hex(session_id):
    return None if session_id is None else "0x%x" % session_id


# --- request validation: field name -> (accepted types, required) ------------------------------------

STRING, INTEGER, OBJECT, ARRAY = (str,), (int,), (dict,), (list,)

REQUEST_FIELDS = {
    "init": {"protocolVersion": (INTEGER, True), "connect": (STRING, True), "sessionTimeoutMs": (INTEGER, True),
             "clients": (ARRAY, True), "lockRoot": (STRING, True), "options": (OBJECT, False)},
    "acquire": {"client": (STRING, True), "lock": (STRING, True), "mode": (STRING, True),
                "timeoutMs": (INTEGER, False)},
    "release": {"client": (STRING, True), "lock": (STRING, True)},
    "fenced-write": {"client": (STRING, True), "lock": (STRING, True), "resource": (STRING, True),
                     "value": (INTEGER, True)},
    "read": {"client": (STRING, True), "resource": (STRING, True)},
}


def validate(request):
    """Raises BadRequest unless `request` has a known type and every field of that type, well typed."""
    fields = REQUEST_FIELDS.get(request.get("type"))
    if fields is None:
        raise BadRequest("unknown request type %r" % (request.get("type"),))
    for name, (types, required) in fields.items():
        if name not in request:
            if required:
                raise BadRequest("%s: missing field %r" % (request["type"], name))
            continue
        value = request[name]
        # bool is an int in Python; JSON true is never a number here.
        if isinstance(value, bool) or not isinstance(value, types):
            raise BadRequest("%s: field %r has the wrong type" % (request["type"], name))
    if request["type"] == "acquire" and request["mode"] not in ("try", "blocking"):
        raise BadRequest("acquire: mode must be 'try' or 'blocking'")
    if request.get("timeoutMs", 1) <= 0:
        raise BadRequest("acquire: timeoutMs must be positive")


# --- one ZooKeeper session per client -------------------------------------------------------------------

class Client:
    """One client id: its KazooClient, the session it last saw, and the Lock objects it holds."""

    def __init__(self, client_id, connect, session_timeout_ms, output):
        self.id = client_id
        self.output = output
        self.session = None
        self.closing = False
        self.held = {}  # lock name -> (kazoo Lock, fence token or None)
        self.held_lock = threading.Lock()
        timeout_s = session_timeout_ms / 1000.0
        # Bounded retries for our own calls (release, token lookup): give up after about one session timeout
        # and answer `info`. The Lock recipe keeps its own retry policy, as shipped.
        self.zk = KazooClient(hosts=connect, timeout=timeout_s,
                              command_retry=KazooRetry(max_tries=-1, deadline=timeout_s, max_delay=1.0))
        self.zk.add_listener(self._on_state)

    def _on_state(self, state):
        """Runs on kazoo's connection thread: record the session and report the change, never block."""
        if self.closing:
            return
        if state == KazooState.CONNECTED:
            self.session = session_hex(self.zk.client_id[0]) if self.zk.client_id else None
            event = "connected"
        elif state == KazooState.SUSPENDED:
            event = "disconnected"
        else:  # LOST: the session expired (kazoo then connects again with a new one)
            event = "expired"
        message = {"type": "event", "client": self.id, "event": event}
        if self.session is not None:
            message["session"] = self.session
        self.output.send(message)

    def current_session(self):
        client_id = self.zk.client_id
        return session_hex(client_id[0]) if client_id else self.session


class Worker:
    def __init__(self, output):
        self.output = output
        self.clients = {}
        self.lock_root = None

    # Every handler returns the answer's fields; `type` says ok, fail or info.

    def init(self, request):
        if self.clients:
            raise BadRequest("init: already initialised")
        if request["protocolVersion"] != PROTOCOL_VERSION:
            raise BadRequest("init: protocol version %r, this worker speaks %d"
                             % (request["protocolVersion"], PROTOCOL_VERSION))
        if not all(isinstance(c, str) for c in request["clients"]) or not request["clients"]:
            raise BadRequest("init: clients must be a non-empty list of strings")
        self.lock_root = request["lockRoot"].rstrip("/")
        clients = {cid: Client(cid, request["connect"], request["sessionTimeoutMs"], self.output)
                   for cid in request["clients"]}
        self.clients = clients
        # Connect all sessions at once: hundreds in a row would take seconds.
        started = [(c, c.zk.start_async()) for c in clients.values()]
        deadline_s = max(CONNECT_TIMEOUT_FLOOR_S, 3 * request["sessionTimeoutMs"] / 1000.0)
        unconnected = [c.id for c, ready in started if not ready.wait(deadline_s) or not c.zk.connected]
        if unconnected:
            return {"type": "error", "error": "could not connect %d of %d clients to %s (first: %s)"
                    % (len(unconnected), len(clients), request["connect"], unconnected[0])}
        return {"type": "init_ok"}

    def client(self, request):
        client = self.clients.get(request["client"])
        if client is None:
            raise BadRequest("unknown client %r" % (request["client"],))
        return client

    def acquire(self, request):
        client = self.client(request)
        name = request["lock"]
        with client.held_lock:
            if name in client.held:
                raise BadRequest("acquire: client %s already holds %s" % (client.id, name))
        # A fresh Lock object per attempt, as in kazoo issue #732's report.
        lock = Lock(client.zk, self.lock_root + "/" + name)
        try:
            if request["mode"] == "try":
                acquired = lock.acquire(blocking=False)
            else:
                timeout_ms = request.get("timeoutMs")
                acquired = lock.acquire(blocking=True, timeout=None if timeout_ms is None else timeout_ms / 1000.0)
        except LockTimeout:
            acquired = False  # the recipe's own word: it waited and did not get the lock
        except KazooException as e:
            return {"type": "info", "error": "acquire: %s" % describe(e), "session": client.current_session()}
        if not acquired:
            return {"type": "fail", "session": client.current_session()}
        node = lock.path + "/" + lock.node
        with client.held_lock:
            client.held[name] = (lock, None)
        # The fence token is the czxid of our own lock node, read right after acquiring.
        try:
            stat = client.zk.retry(client.zk.exists, node)
        except KazooException as e:
            return {"type": "info", "node": node, "session": client.current_session(),
                    "error": "acquired, but the fence token could not be read: %s" % describe(e)}
        if stat is None:
            return {"type": "info", "node": node, "session": client.current_session(),
                    "error": "acquired, but the lock node was already gone (session expired?)"}
        with client.held_lock:
            client.held[name] = (lock, stat.czxid)
        return {"type": "ok", "token": stat.czxid, "node": node, "session": session_hex(stat.ephemeralOwner)}

    def release(self, request):
        client = self.client(request)
        with client.held_lock:
            entry = client.held.get(request["lock"])
        if entry is None:
            return {"type": "fail", "error": "release: client %s does not hold %s" % (client.id, request["lock"]),
                    "session": client.current_session()}
        lock = entry[0]
        try:
            released = lock.release()
        except (KazooException, RetryFailedError) as e:
            # Kept as held: the node may still be there, and a later release can try again.
            return {"type": "info", "error": "release: %s" % describe(e), "session": client.current_session()}
        with client.held_lock:
            client.held.pop(request["lock"], None)
        if not released:  # a concurrent release of the same lock got there first
            return {"type": "fail", "error": "release: %s was not held" % request["lock"],
                    "session": client.current_session()}
        return {"type": "ok", "session": client.current_session()}

    def fenced_write(self, request):
        client = self.client(request)
        with client.held_lock:
            entry = client.held.get(request["lock"])
        token = entry[1] if entry else None
        if token is None:
            return {"type": "fail", "error": "fenced-write: client %s holds no token for %s"
                    % (client.id, request["lock"])}
        body = {"client": client.id, "token": token, "value": request["value"]}
        return http_exchange(request["resource"], body)

    def read(self, request):
        self.client(request)
        answer = http_exchange(request["resource"], None)
        if answer["type"] == "ok":
            value = answer.pop("body", {}).get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return {"type": "fail", "error": "read: resource answered no numeric value"}
            answer["value"] = value
        return answer

    def close(self):
        for client in self.clients.values():
            client.closing = True
        for client in self.clients.values():
            try:
                client.zk.stop()  # closes the session: its ephemeral nodes go at once
                client.zk.close()
            except KazooException as e:
                log.warning("closing %s: %s", client.id, describe(e))


def describe(error):
    return "%s %s" % (type(error).__name__, error) if str(error) else type(error).__name__


def http_exchange(url, body):
    """GET (body None) or POST JSON. 2xx → ok; a definite refusal → fail; no answer → info."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {} if body is None else {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        # The resource answered: a 4xx is a definite rejection; a 5xx may have applied the write.
        kind = "fail" if 400 <= e.code < 500 else "info"
        return {"type": kind, "error": "%s %s: HTTP %d" % (request.get_method(), url, e.code)}
    except urllib.error.URLError as e:
        # Refused before anything was sent: definitely not applied. Anything else: unknown.
        kind = "fail" if isinstance(e.reason, ConnectionRefusedError) else "info"
        return {"type": kind, "error": "%s %s: %s" % (request.get_method(), url, e.reason)}
    except (TimeoutError, OSError) as e:
        return {"type": "info", "error": "%s %s: %s" % (request.get_method(), url, describe(e))}
    answer = {"type": "ok"}
    if body is None:
        try:
            answer["body"] = json.loads(payload or b"{}")
        except ValueError:
            return {"type": "fail", "error": "GET %s: the answer is not JSON" % url}
    return answer


HANDLERS = {"acquire": Worker.acquire, "release": Worker.release, "fenced-write": Worker.fenced_write,
            "read": Worker.read}


def answer(worker, request):
    """Runs one request to its single answer."""
    try:
        result = HANDLERS[request["type"]](worker, request)
    except BadRequest as e:
        result = {"type": "error", "error": str(e)}
    except Exception as e:  # a bug or an unexpected library error: unknown outcome, keep serving
        log.exception("request %s", request.get("id"))
        result = {"type": "info", "error": "worker: %s" % describe(e)}
    worker.output.send(dict(result, in_reply_to=request["id"]))


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s kazoo-worker %(levelname)s %(name)s: %(message)s")
    output = Output()
    worker = Worker(output)
    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            try:
                request = json.loads(line)
            except ValueError as e:
                raise BadRequest("not JSON: %s" % e)
            if not isinstance(request, dict):
                raise BadRequest("a request is a JSON object")
            request_id = request.get("id")
            if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
                request_id = None
                raise BadRequest("a request needs a non-negative integer id")
            validate(request)
            if request["type"] == "init":
                output.send(dict(worker.init(request), in_reply_to=request_id))
                continue
            if not worker.clients:
                raise BadRequest("%s before init" % request["type"])
        except BadRequest as e:
            output.send({"type": "error", "in_reply_to": request_id, "error": str(e)})
            continue
        threading.Thread(target=answer, args=(worker, request), daemon=True).start()
    worker.close()


if __name__ == "__main__":
    main()
