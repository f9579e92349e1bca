// Curator worker: drives Apache Curator's InterProcessMutex and InterProcessReadWriteLock, exactly as Debian ships
// them, through docs/worker-protocol.md. One process is one client host: one CuratorFramework (one ZooKeeper session) per
// client id. A single-file source program: `java -cp <CURATOR_CLASSPATH> Worker.java`, no build step.

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.BoundedExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class Worker {
    static final int PROTOCOL_VERSION = 1;
    static final Duration HTTP_TIMEOUT = Duration.ofSeconds(5);
    static final int CONNECT_TIMEOUT_FLOOR_MS = 10_000;
    /** Within the runner's grace period before it kills a worker that was told to stop (3 s). */
    static final int CLOSE_WAIT_MS = 2_000;
    // Bounded retries for every Curator call (the recipe's too): exponential from 100 ms up to 1 s, then `info`.
    static final int RETRY_BASE_MS = 100, RETRY_MAX_SLEEP_MS = 1_000, RETRIES = 4;

    // `error` strings with a fixed meaning: ANSWER_ERRORS in workloads/protocol.ts.
    static final String HELD = "held", TIMEOUT = "timeout", SESSION_EXPIRED = "session expired", LOST = "lost",
        NOT_HELD = "not held", ALREADY_HELD = "already held", BUSY = "busy", REJECTED = "rejected";

    /** WORKER_FEATURES in workloads/protocol.ts: Curator documents downgrading (write, then read, release write). */
    static final List<String> FEATURES = List.of("read-write", "downgrade");

    static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws IOException {
        // Quiet by default, on stderr; -Dorg.slf4j.simpleLogger.defaultLogLevel=info on the command line wins.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        // The protocol owns stdout: anything a library prints goes to stderr.
        Output output = new Output(new FileOutputStream(FileDescriptor.out));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        Worker worker = new Worker(output);
        worker.serve(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)));
        worker.close();
        System.exit(0);
    }

    /** The request breaks the protocol: answered `error` (to its id, when it has one); the worker keeps serving. */
    static final class BadRequest extends Exception {
        final Long requestId;
        BadRequest(String message) { this(message, null); }
        BadRequest(String message, Long requestId) {
            super(message);
            this.requestId = requestId;
        }
    }

    /** stdout: one JSON document per line, never interleaved. A reader that went away is not our problem. */
    static final class Output {
        private final OutputStream out;
        Output(OutputStream out) { this.out = out; }

        synchronized void send(ObjectNode message) {
            try {
                out.write((JSON.writeValueAsString(message) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException ignored) {
                // The runner closed the pipe: nobody is left to tell.
            }
        }
    }

    /** An answer without its in_reply_to; a null error or session is left out (the protocol has no nulls there). */
    static ObjectNode answer(String type, String error, String session) {
        ObjectNode answer = JSON.createObjectNode().put("type", type);
        if (error != null) answer.put("error", error);
        if (session != null) answer.put("session", session);
        return answer;
    }

    static String describe(Throwable e) {
        String name = e.getClass().getSimpleName();
        return e.getMessage() == null ? name : name + " " + e.getMessage();
    }

    static String sessionHex(long sessionId) { return sessionId == 0 ? null : "0x" + Long.toHexString(sessionId); }

    static ThreadFactory daemonThreads(String name) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    // --- request validation ------------------------------------------------------------------------------

    enum Kind { STRING, INTEGER, OBJECT, ARRAY }
    record Field(String name, Kind kind, boolean required) {}

    static final Map<String, List<Field>> REQUEST_FIELDS = Map.of(
        "init", List.of(new Field("protocolVersion", Kind.INTEGER, true), new Field("connect", Kind.STRING, true),
            new Field("sessionTimeoutMs", Kind.INTEGER, true), new Field("clients", Kind.ARRAY, true),
            new Field("lockRoot", Kind.STRING, true), new Field("options", Kind.OBJECT, false)),
        "acquire", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true),
            new Field("mode", Kind.STRING, true), new Field("timeoutMs", Kind.INTEGER, false),
            new Field("access", Kind.STRING, false)),
        "release", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true),
            new Field("access", Kind.STRING, false)),
        "fenced-write", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true),
            new Field("resource", Kind.STRING, true), new Field("value", Kind.INTEGER, true)),
        "read", List.of(new Field("client", Kind.STRING, true), new Field("resource", Kind.STRING, true),
            new Field("lock", Kind.STRING, false)));

    /** The request on `line`, checked against REQUEST_FIELDS; BadRequest names what is wrong. */
    static JsonNode parseRequest(String line) throws BadRequest {
        JsonNode request;
        try {
            request = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new BadRequest("not JSON: " + e.getOriginalMessage());
        }
        if (request == null || !request.isObject()) throw new BadRequest("a request is a JSON object");
        JsonNode id = request.get("id");
        if (id == null || !id.isIntegralNumber() || !id.canConvertToLong() || id.asLong() < 0) {
            throw new BadRequest("a request needs a non-negative integer id");
        }
        try {
            checkFields(request);
        } catch (BadRequest e) {
            throw new BadRequest(e.getMessage(), id.asLong());
        }
        return request;
    }

    static void checkFields(JsonNode request) throws BadRequest {
        JsonNode type = request.path("type");
        List<Field> fields = type.isTextual() ? REQUEST_FIELDS.get(type.asText()) : null;
        if (fields == null) throw new BadRequest("unknown request type " + type);
        String kind = type.asText();
        for (Field field : fields) {
            JsonNode value = request.get(field.name());
            if (value == null) {
                if (field.required()) throw new BadRequest(kind + ": missing field '" + field.name() + "'");
                continue;
            }
            boolean typed = switch (field.kind()) {
                case STRING -> value.isTextual();
                case INTEGER -> value.isIntegralNumber() && value.canConvertToLong();
                case OBJECT -> value.isObject();
                case ARRAY -> value.isArray();
            };
            if (!typed) throw new BadRequest(kind + ": field '" + field.name() + "' has the wrong type");
        }
        if (kind.equals("acquire")) {
            String mode = request.get("mode").asText();
            if (!mode.equals("try") && !mode.equals("blocking")) {
                throw new BadRequest("acquire: mode must be 'try' or 'blocking'");
            }
            if (request.has("timeoutMs") && request.get("timeoutMs").asLong() <= 0) {
                throw new BadRequest("acquire: timeoutMs must be positive");
            }
        }
        if (kind.equals("acquire") || kind.equals("release")) {
            String access = request.path("access").asText("read");
            if (!access.equals("read") && !access.equals("write")) {
                throw new BadRequest(kind + ": access must be 'read' or 'write' (or absent, the exclusive lock)");
            }
        }
        if (kind.equals("init")) {
            JsonNode clients = request.get("clients");
            boolean allStrings = clients.size() > 0;
            for (JsonNode client : clients) allStrings &= client.isTextual();
            if (!allStrings) throw new BadRequest("init: clients must be a non-empty list of strings");
        }
    }

    // --- one ZooKeeper session per client ------------------------------------------------------------------

    // Curator's mutexes keep the node of the thread that holds them (getLockPath(), protected in 5.4.0); these
    // subclasses let us read that node's czxid. Only on the thread that acquired.

    static final class FencedMutex extends InterProcessMutex {
        FencedMutex(CuratorFramework curator, String path) { super(curator, path); }
        String ownNode() { return getLockPath(); }
    }

    static final class FencedWriteLock extends InterProcessReadWriteLock.WriteLock {
        FencedWriteLock(CuratorFramework curator, String path) { super(curator, path, null); }
        String ownNode() { return getLockPath(); }
    }

    static final class FencedReadLock extends InterProcessReadWriteLock.ReadLock {
        FencedReadLock(CuratorFramework curator, String path, FencedWriteLock write) { super(curator, path, null, write); }
        String ownNode() { return getLockPath(); }
    }

    /** InterProcessReadWriteLock built from the subclasses above (its constructor for subclasses). */
    static final class FencedReadWriteLock extends InterProcessReadWriteLock {
        private final FencedWriteLock write;
        private final FencedReadLock read;

        private FencedReadWriteLock(FencedWriteLock write, FencedReadLock read) {
            super(write, read);
            this.write = write;
            this.read = read;
        }

        static FencedReadWriteLock create(CuratorFramework curator, String path) {
            FencedWriteLock write = new FencedWriteLock(curator, path);
            return new FencedReadWriteLock(write, new FencedReadLock(curator, path, write));
        }

        LockSide side(String access) {
            return access.equals("read") ? new LockSide(readLock(), read::ownNode) : new LockSide(writeLock(), write::ownNode);
        }
    }

    /** What an acquire works on: the mutex to acquire and release, and how to learn its node once acquired. */
    record LockSide(InterProcessMutex mutex, Supplier<String> ownNode) {}

    /** One hold per lock and side; `access` null is the exclusive lock. */
    record HoldKey(String lock, String access) {}

    /** What a client believes it holds: the mutex (to release it), its node, token (null: unknown) and session. */
    static final class Hold {
        final InterProcessMutex mutex;
        final String node;
        volatile Long token;
        volatile String session;
        Hold(InterProcessMutex mutex, String node, String session) {
            this.mutex = mutex;
            this.node = node;
            this.session = session;
        }
    }

    final class Client {
        final String id;
        final CuratorFramework curator;
        // InterProcessMutex belongs to the thread that acquired it: every acquire and release of a client runs on
        // that client's own thread.
        final ExecutorService lockThread;
        final Map<HoldKey, Hold> holds = new ConcurrentHashMap<>();
        /**
         * lock → the InterProcessReadWriteLock of the client's holds on it. Downgrading needs the same instance for
         * both sides; once neither side is held, the next acquire takes a fresh one (a kept one would re-enter).
         */
        final Map<String, FencedReadWriteLock> sharedLocks = new ConcurrentHashMap<>();
        final AtomicBoolean busy = new AtomicBoolean();
        final CountDownLatch announced = new CountDownLatch(1);
        /** The session of the last `connected` event, reported again on disconnect and expiry. */
        volatile String session;
        /** Sessions this client saw expire. */
        final Set<String> expired = ConcurrentHashMap.newKeySet();

        Client(String id, String connect, int sessionTimeoutMs) {
            this.id = id;
            this.lockThread = Executors.newSingleThreadExecutor(daemonThreads("lock-" + id));
            this.curator = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(sessionTimeoutMs)
                .retryPolicy(new BoundedExponentialBackoffRetry(RETRY_BASE_MS, RETRY_MAX_SLEEP_MS, RETRIES))
                .threadFactory(daemonThreads("curator-" + id))
                .runSafeService(sharedCallbacks)
                .build();
            curator.getConnectionStateListenable().addListener((framework, state) -> onState(state));
        }

        /** Runs on Curator's connection-state thread, so it only records and reports. */
        private void onState(ConnectionState state) {
            if (closing) return;
            String event = switch (state) {
                case CONNECTED, RECONNECTED, READ_ONLY -> {
                    session = liveSession();
                    yield "connected";
                }
                case SUSPENDED -> "disconnected";
                case LOST -> {
                    if (session != null) expired.add(session);
                    yield "expired"; // Curator then connects with a new session
                }
            };
            ObjectNode message = JSON.createObjectNode().put("type", "event").put("client", id).put("event", event);
            if (session != null) message.put("session", session);
            output.send(message);
            if (event.equals("connected")) announced.countDown();
        }

        String liveSession() {
            try {
                return sessionHex(curator.getZookeeperClient().getZooKeeper().getSessionId());
            } catch (Exception e) {
                return null;
            }
        }

        String currentSession() {
            String live = liveSession();
            return live != null ? live : session;
        }

        /** Whether `session` is over: its LOST went out, or the client's handle is on another session (or none). */
        boolean sessionEnded(String session) {
            return expired.contains(session) || !Objects.equals(liveSession(), session);
        }
    }

    // --- the worker ----------------------------------------------------------------------------------------

    final Output output;
    final Map<String, Client> clients = new LinkedHashMap<>();
    // Curator's watcher callbacks of every session share one thread instead of one each.
    final ExecutorService sharedCallbacks = Executors.newSingleThreadExecutor(daemonThreads("curator-callbacks"));
    final ExecutorService resourceRequests = Executors.newCachedThreadPool(daemonThreads("resource"));
    final HttpClient http = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
    volatile boolean closing;
    String lockRoot;

    Worker(Output output) { this.output = output; }

    void serve(BufferedReader input) throws IOException {
        String line;
        while ((line = input.readLine()) != null) {
            if (line.isBlank()) continue;
            JsonNode request;
            try {
                request = parseRequest(line);
            } catch (BadRequest e) {
                send(e.requestId, answer("error", e.getMessage(), null));
                continue;
            }
            long requestId = request.get("id").asLong();
            try {
                dispatch(requestId, request);
            } catch (BadRequest e) {
                send(requestId, answer("error", e.getMessage(), null));
            }
        }
    }

    void send(Long requestId, ObjectNode answer) {
        if (requestId == null) answer.putNull("in_reply_to");
        else answer.put("in_reply_to", requestId);
        output.send(answer);
    }

    /** init runs in line; anything else on its client's lock thread or the resource pool, unless the client is busy. */
    void dispatch(long requestId, JsonNode request) throws BadRequest {
        String type = request.get("type").asText();
        if (type.equals("init")) {
            send(requestId, init(request));
            return;
        }
        if (clients.isEmpty()) throw new BadRequest(type + " before init");
        Client client = clients.get(request.get("client").asText());
        if (client == null) throw new BadRequest("unknown client " + request.get("client"));
        if (!client.busy.compareAndSet(false, true)) {
            send(requestId, answer("fail", BUSY, client.currentSession()));
            return;
        }
        ExecutorService executor = type.equals("acquire") || type.equals("release") ? client.lockThread : resourceRequests;
        executor.execute(() -> {
            ObjectNode answer;
            try {
                answer = perform(client, type, request);
            } catch (RuntimeException e) {
                // A bug, or a library error nobody foresaw: the outcome is unknown.
                e.printStackTrace();
                answer = answer("info", "worker: " + describe(e), null);
            }
            client.busy.set(false);
            send(requestId, answer);
        });
    }

    ObjectNode perform(Client client, String type, JsonNode request) {
        if (type.equals("acquire")) return acquire(client, request);
        HoldKey key = new HoldKey(request.path("lock").asText(null), request.path("access").asText(null));
        Hold hold = client.holds.get(key);
        // The hold's token goes with the read, so that the resource fences older holders off from here on.
        if (type.equals("read")) return readResource(request.get("resource").asText(), client.id, hold == null ? null : hold.token);
        if (hold == null) return answer("fail", NOT_HELD, client.currentSession());
        if (type.equals("release")) return release(client, key, hold);
        return writeResource(request.get("resource").asText(), client.id, hold, request.get("value").asLong());
    }

    ObjectNode init(JsonNode request) throws BadRequest {
        if (!clients.isEmpty()) throw new BadRequest("init: already initialised");
        if (request.get("protocolVersion").asLong() != PROTOCOL_VERSION) {
            throw new BadRequest("init: protocol version " + request.get("protocolVersion")
                + "; this worker speaks " + PROTOCOL_VERSION);
        }
        lockRoot = request.get("lockRoot").asText().replaceAll("/+$", "");
        String connect = request.get("connect").asText();
        int sessionTimeoutMs = request.get("sessionTimeoutMs").asInt();
        try {
            for (JsonNode id : request.get("clients")) clients.put(id.asText(), new Client(id.asText(), connect, sessionTimeoutMs));
        } catch (IllegalArgumentException e) {
            clients.clear();
            throw new BadRequest("init: " + describe(e));
        }
        // All sessions connect at once: hundreds one after another would take seconds.
        clients.values().forEach(client -> client.curator.start());
        long waitMs = Math.max(CONNECT_TIMEOUT_FLOOR_MS, 3L * sessionTimeoutMs);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        List<String> unconnected = new ArrayList<>();
        for (Client client : clients.values()) {
            try {
                if (!client.announced.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) unconnected.add(client.id);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                unconnected.add(client.id);
            }
        }
        if (!unconnected.isEmpty()) {
            return answer("error", "could not connect " + unconnected.size() + " of " + clients.size() + " clients to "
                + connect + " within " + waitMs + " ms (first: " + unconnected.get(0) + ")", null);
        }
        ObjectNode ok = answer("init_ok", null, null);
        FEATURES.forEach(ok.putArray("features")::add);
        return ok;
    }

    /** On the client's lock thread. */
    ObjectNode acquire(Client client, JsonNode request) {
        HoldKey key = new HoldKey(request.get("lock").asText(), request.path("access").asText(null));
        if (client.holds.containsKey(key)) return answer("fail", ALREADY_HELD, client.currentSession());
        LockSide side = lockSide(client, key);
        InterProcessMutex mutex = side.mutex();
        boolean acquired;
        String refusal;
        try {
            if (request.get("mode").asText().equals("try")) {
                refusal = HELD;
                acquired = mutex.acquire(0, TimeUnit.MILLISECONDS); // Curator has no try: a zero wait is one
            } else if (request.has("timeoutMs")) {
                refusal = TIMEOUT;
                acquired = mutex.acquire(request.get("timeoutMs").asLong(), TimeUnit.MILLISECONDS);
            } else {
                refusal = TIMEOUT;
                mutex.acquire();
                acquired = true;
            }
        } catch (KeeperException.SessionExpiredException e) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("fail", SESSION_EXPIRED, client.currentSession());
        } catch (Exception e) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("info", "acquire: " + describe(e), client.currentSession());
        }
        if (!acquired) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("fail", refusal, client.currentSession());
        }
        Hold hold = new Hold(mutex, side.ownNode().get(), client.currentSession());
        client.holds.put(key, hold);
        // The fence token: the czxid of our own lock node, read right after acquiring.
        Stat stat;
        try {
            stat = client.curator.checkExists().forPath(hold.node);
        } catch (Exception e) {
            return answer("info", "acquired, but the fence token could not be read: " + describe(e), hold.session)
                .put("node", hold.node);
        }
        if (stat == null) {
            return answer("info", "acquired, but the lock node was gone before its token could be read", hold.session)
                .put("node", hold.node);
        }
        hold.token = stat.getCzxid();
        hold.session = sessionHex(stat.getEphemeralOwner());
        return answer("ok", null, hold.session).put("token", hold.token).put("node", hold.node);
    }

    /**
     * The mutex for one attempt: a fresh InterProcessMutex for the exclusive lock, like the kazoo worker's fresh Lock
     * (a kept one would re-enter); a side of the client's InterProcessReadWriteLock of that lock for the others.
     */
    LockSide lockSide(Client client, HoldKey key) {
        String path = lockRoot + "/" + key.lock();
        if (key.access() == null) {
            FencedMutex mutex = new FencedMutex(client.curator, path);
            return new LockSide(mutex, mutex::ownNode);
        }
        return client.sharedLocks.computeIfAbsent(key.lock(), lock -> FencedReadWriteLock.create(client.curator, path)).side(key.access());
    }

    /** Once the client holds neither side of `lock`, its InterProcessReadWriteLock goes: the next acquire starts afresh. */
    static void forgetUnheldSharedLock(Client client, String lock) {
        if (!client.holds.containsKey(new HoldKey(lock, "read")) && !client.holds.containsKey(new HoldKey(lock, "write"))) {
            client.sharedLocks.remove(lock);
        }
    }

    /** On the client's lock thread: the one that acquired. */
    ObjectNode release(Client client, HoldKey key, Hold hold) {
        String name = key.lock();
        // Whatever the answer, the client no longer believes it holds the lock.
        client.holds.remove(key);
        forgetUnheldSharedLock(client, name);
        // Curator's release succeeds even when the node already went with an expired session: look first.
        Boolean lost;
        try {
            Stat stat = client.curator.checkExists().forPath(hold.node);
            lost = stat == null || !Objects.equals(sessionHex(stat.getEphemeralOwner()), hold.session);
        } catch (Exception e) {
            lost = null;
            System.err.println("release " + name + " of " + client.id + ": could not look at " + hold.node + " first: "
                + describe(e));
        }
        try {
            hold.mutex.release();
        } catch (Exception e) {
            // Curator forgets the lock either way and goes on deleting the node in the background (guaranteed
            // delete); whether it is gone yet is unknown.
            return answer("info", "release: " + describe(e), client.currentSession());
        }
        if (lost == null) {
            return answer("info", "released, but whether the node was still ours is unknown", client.currentSession());
        }
        if (lost) return answer("fail", LOST, client.currentSession());
        if (client.sessionEnded(hold.session)) {
            // The node was ours a moment ago: our delete or the session's end removed it, nobody knows which.
            return answer("info", "the session ended during the release", client.currentSession());
        }
        return answer("ok", null, hold.session);
    }

    // --- the resource the runner names: HTTP, JSON both ways -----------------------------------------------

    record HttpResult(int status, JsonNode body) {}

    /** GET (body null) or POST JSON; the body is JSON's null node when the answer is not JSON. */
    HttpResult httpJson(String url, ObjectNode body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(HTTP_TIMEOUT);
        if (body != null) {
            request.header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode parsed;
        try {
            parsed = JSON.readTree(response.body());
        } catch (JsonProcessingException e) {
            parsed = JSON.nullNode();
        }
        return new HttpResult(response.statusCode(), parsed == null ? JSON.nullNode() : parsed);
    }

    /** The write with this hold's token: accepted → ok; rejected → fail; no clear answer → info. */
    ObjectNode writeResource(String url, String clientId, Hold hold, long value) {
        Long token = hold.token;
        if (token == null) return answer("fail", "no fence token: the acquire could not read one", hold.session);
        HttpResult result;
        try {
            result = httpJson(url, JSON.createObjectNode().put("client", clientId).put("token", token).put("value", value));
        } catch (IOException | IllegalArgumentException e) {
            return answer("info", "POST " + url + ": " + describe(e), hold.session);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return answer("info", "POST " + url + ": interrupted", hold.session);
        }
        JsonNode accepted = result.body().path("accepted");
        if (result.status() != 200 || !accepted.isBoolean()) {
            return answer("info", "POST " + url + ": HTTP " + result.status() + " without a verdict", hold.session);
        }
        return accepted.asBoolean() ? answer("ok", null, hold.session) : answer("fail", REJECTED, hold.session);
    }

    /** A read changes no value (at most it raised the highest token seen), so a failed one is a fail, never info. */
    ObjectNode readResource(String resource, String clientId, Long token) {
        String url = resource + (resource.contains("?") ? "&" : "?") + "client=" + URLEncoder.encode(clientId, StandardCharsets.UTF_8)
            + (token == null ? "" : "&token=" + token);
        HttpResult result;
        try {
            result = httpJson(url, null);
        } catch (IOException | IllegalArgumentException e) {
            return answer("fail", "GET " + url + ": " + describe(e), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return answer("fail", "GET " + url + ": interrupted", null);
        }
        JsonNode value = result.body().path("value");
        if (result.status() != 200 || !value.isNumber()) {
            return answer("fail", "GET " + url + ": HTTP " + result.status() + " without a numeric value", null);
        }
        return answer("ok", null, null).set("value", value);
    }

    /**
     * Closes every session. The server deletes a session's ephemeral nodes the moment it answers the closeSession,
     * and that is all that matters here. ZooKeeper's client serialises its connections' teardown on a JVM-wide lock,
     * each holding it for a 100 ms sleep, and queueing a packet needs the same lock: closes issued one after another
     * take 100 ms each (20 s for 200 sessions). So every closeSession is sent at the same instant, before any
     * teardown starts, straight through the ZooKeeper handle (Curator's close would first queue watch removals), and
     * we wait for the sessions, not for the sockets: the JVM's exit takes care of those.
     */
    void close() {
        closing = true;
        CountDownLatch go = new CountDownLatch(1);
        List<ZooKeeper> handles = new ArrayList<>();
        for (Client client : clients.values()) {
            ZooKeeper handle;
            try {
                handle = client.curator.getZookeeperClient().getZooKeeper();
            } catch (Exception e) {
                continue; // never connected: no session to close
            }
            handles.add(handle);
            Thread closer = new Thread(() -> {
                try {
                    go.await();
                    handle.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "close-" + client.id);
            closer.setDaemon(true);
            closer.start();
        }
        go.countDown();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MS);
        while (handles.stream().anyMatch(handle -> handle.getState().isAlive()) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        long open = handles.stream().filter(handle -> handle.getState().isAlive()).count();
        if (open > 0) {
            System.err.println("close: " + open + " of " + handles.size() + " sessions not closed within " + CLOSE_WAIT_MS
                + " ms; ZooKeeper will expire them");
        }
    }
}
