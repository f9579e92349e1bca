// Curator worker: drives Apache Curator's InterProcessMutex, InterProcessReadWriteLock, InterProcessSemaphoreV2,
// LeaderLatch and LeaderSelector, exactly as Debian ships them, through docs/worker-protocol.md. With the argument
// `zookeeper` it drives ZooKeeper's own recipes instead (zookeeper-recipes-lock's WriteLock, zookeeper-recipes-election's
// LeaderElectionSupport) on each client's ZooKeeper handle; Curator then only keeps the sessions. One process is one
// client host: one CuratorFramework (one ZooKeeper session) per client id. A single-file source program:
// `java -cp <CURATOR_CLASSPATH> Worker.java [curator|zookeeper]`, no build step.

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
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.BoundedExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;

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
        NOT_HELD = "not held", ALREADY_HELD = "already held", BUSY = "busy", REJECTED = "rejected",
        ALREADY_CAMPAIGNING = "already campaigning", NOT_CAMPAIGNING = "not campaigning";

    /**
     * WORKER_FEATURES in workloads/protocol.ts. Curator documents downgrading (write, then read, release write).
     * ZooKeeper's recipes have an exclusive lock and an election, nothing else.
     */
    static final List<String> CURATOR_FEATURES = List.of("read-write", "downgrade", "leader", "semaphore");
    static final List<String> ZOOKEEPER_FEATURES = List.of("leader");
    /** How long a resign waits for the driver's own (often background) delete of the candidate node. */
    static final int RESIGN_WAIT_SESSIONS = 2;

    static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws IOException {
        // Quiet by default, on stderr; -Dorg.slf4j.simpleLogger.defaultLogLevel=info on the command line wins.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        if (args.length > 1 || (args.length == 1 && !args[0].equals("curator") && !args[0].equals("zookeeper"))) {
            System.err.println("usage: Worker.java [curator|zookeeper]");
            System.exit(2);
        }
        // The protocol owns stdout: anything a library prints goes to stderr.
        Output output = new Output(new FileOutputStream(FileDescriptor.out));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        Worker worker = new Worker(output, args.length == 1 && args[0].equals("zookeeper"));
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
            new Field("access", Kind.STRING, false), new Field("permits", Kind.INTEGER, false)),
        "release", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true),
            new Field("access", Kind.STRING, false)),
        "fenced-write", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, false),
            new Field("election", Kind.STRING, false), new Field("resource", Kind.STRING, true), new Field("value", Kind.INTEGER, true)),
        "read", List.of(new Field("client", Kind.STRING, true), new Field("resource", Kind.STRING, true),
            new Field("lock", Kind.STRING, false), new Field("election", Kind.STRING, false)),
        "campaign", List.of(new Field("client", Kind.STRING, true), new Field("election", Kind.STRING, true)),
        "resign", List.of(new Field("client", Kind.STRING, true), new Field("election", Kind.STRING, true)));

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
            if (request.has("permits") && (request.get("permits").asLong() <= 0 || request.has("access"))) {
                throw new BadRequest("acquire: permits must be positive, and a semaphore has no sides");
            }
        }
        if (kind.equals("fenced-write") && request.has("lock") == request.has("election")) {
            throw new BadRequest("fenced-write: exactly one of 'lock' and 'election'");
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

    /** How a recipe gives back what it got: a mutex's release, a lease's close, a WriteLock's unlock. */
    interface Releaser { void release() throws Exception; }

    /** What one acquire got: how to give it back, and its node. */
    record Acquired(Releaser releaser, String node) {}

    /** One attempt of a recipe; `waitMs` 0 is a try, negative waits for ever. null: not acquired, its node given up. */
    interface Attempt { Acquired run(long waitMs) throws Exception; }

    /** What a client believes it holds: how to release it, its node, token (null: unknown) and session. */
    static final class Hold {
        final Releaser releaser;
        final String node;
        volatile Long token;
        volatile String session;
        Hold(Releaser releaser, String node, String session) {
            this.releaser = releaser;
            this.node = node;
            this.session = session;
        }
    }

    /** What withdraws a candidacy from its election: the driver's own close or stop. */
    interface Withdrawal { void run() throws Exception; }

    /**
     * A client's candidacy in one election, whatever drives it. Every driver writes `participantId` as the data of its
     * candidate node, which is how the node is found. Leadership events go out only once the campaign is answered
     * (`announce`), and never after a resign.
     */
    final class Candidacy {
        final Client client;
        final String path;
        final String election;
        final String participantId;
        final CountDownLatch resigning = new CountDownLatch(1);
        volatile Withdrawal withdrawal;
        private boolean announced, leading, resigned;
        volatile Long token;
        volatile String session;
        /** The candidate node while leading. */
        private String node;

        Candidacy(Client client, String election, String path, String participantId) {
            this.client = client;
            this.election = election;
            this.path = path;
            this.participantId = participantId;
        }

        /** The driver says we lead: find our node, read its token, tell the runner (once answered). */
        synchronized void elected() {
            if (resigned || leading) return;
            Stat stat = null;
            String node = null;
            try {
                node = client.nodeWithData(path, participantId);
                stat = node == null ? null : client.curator.checkExists().forPath(node);
            } catch (Exception e) {
                System.err.println("elected in " + path + ", but the candidate node could not be read: " + describe(e));
            }
            if (stat == null) {
                // Without its node there is no token to lead with: the client does not take the leadership.
                System.err.println("elected in " + path + ", but no candidate node of " + participantId + " was found");
                return;
            }
            token = stat.getCzxid();
            session = sessionHex(stat.getEphemeralOwner());
            leading = true;
            this.node = node;
            if (announced) sendLeadership(true);
        }

        /** The driver says we no longer lead. */
        synchronized void deposed() {
            if (!leading || resigned) return;
            leading = false;
            if (announced) sendLeadership(false);
        }

        synchronized void announce() {
            if (announced) return;
            announced = true;
            if (leading) sendLeadership(true);
        }

        synchronized void resign() {
            resigned = true;
            leading = false;
            resigning.countDown();
        }

        synchronized Long leadingToken() { return leading ? token : null; }
        synchronized boolean leading() { return leading; }

        private void sendLeadership(boolean now) {
            ObjectNode event = JSON.createObjectNode().put("type", "event").put("client", client.id).put("event", "leadership")
                .put("election", election).put("leading", now);
            if (now) event.put("token", token).put("node", node);
            String known = now ? session : client.currentSession();
            if (known != null) event.put("session", known);
            output.send(event);
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
        /** election → the client's candidacy in it. */
        final Map<String, Candidacy> candidacies = new ConcurrentHashMap<>();
        /** LeaderLatch and LeaderElectionSupport report leadership here, in order, off Curator's and ZooKeeper's threads. */
        final ExecutorService leaderThread;
        final AtomicBoolean busy = new AtomicBoolean();
        final CountDownLatch announced = new CountDownLatch(1);
        /** The session of the last `connected` event, reported again on disconnect and expiry. */
        volatile String session;
        /** Sessions this client saw expire. */
        final Set<String> expired = ConcurrentHashMap.newKeySet();

        Client(String id, String connect, int sessionTimeoutMs) {
            this.id = id;
            this.lockThread = Executors.newSingleThreadExecutor(daemonThreads("lock-" + id));
            this.leaderThread = Executors.newSingleThreadExecutor(daemonThreads("leader-" + id));
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

        /** Paths known to exist: ZooKeeper's recipes need their node's parents (the election support, its node too). */
        final Set<String> madePaths = ConcurrentHashMap.newKeySet();

        void ensurePath(String path) throws Exception {
            if (madePaths.contains(path)) return;
            try {
                curator.create().creatingParentsIfNeeded().forPath(path);
            } catch (KeeperException.NodeExistsException e) {
                // made by the runner or another client
            }
            madePaths.add(path);
        }

        /** The child of `path` whose data is `data` (a candidate node names its participant so), or null. */
        String nodeWithData(String path, String data) throws Exception {
            for (String child : curator.getChildren().forPath(path)) {
                String node = path + "/" + child;
                try {
                    if (data.equals(new String(curator.getData().forPath(node), StandardCharsets.UTF_8))) return node;
                } catch (KeeperException.NoNodeException e) {
                    // gone since the listing
                }
            }
            return null;
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
    /** ZooKeeper's own recipes instead of Curator's. */
    final boolean zookeeperRecipes;
    /** Worker option leaderRecipe: Curator's LeaderLatch ("latch", the default) or LeaderSelector ("selector"). */
    String leaderRecipe = "latch";
    final AtomicInteger candidacyCount = new AtomicInteger();
    int sessionTimeoutMs;

    Worker(Output output, boolean zookeeperRecipes) {
        this.output = output;
        this.zookeeperRecipes = zookeeperRecipes;
    }

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
        boolean lockRequest = type.equals("acquire") || type.equals("release") || type.equals("campaign") || type.equals("resign");
        ExecutorService executor = lockRequest ? client.lockThread : resourceRequests;
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
            // The candidacy's leadership events may go out from now on: after the campaign's answer.
            if (type.equals("campaign")) {
                Candidacy candidacy = client.candidacies.get(request.get("election").asText());
                if (candidacy != null) candidacy.announce();
            }
        });
    }

    ObjectNode perform(Client client, String type, JsonNode request) {
        if (type.equals("acquire")) return acquire(client, request);
        if (type.equals("campaign")) return campaign(client, request.get("election").asText());
        if (type.equals("resign")) return resign(client, request.get("election").asText());
        if (request.has("election")) {
            // A leader's read and write carry its leadership token.
            Candidacy candidacy = client.candidacies.get(request.get("election").asText());
            Long token = candidacy == null ? null : candidacy.leadingToken();
            if (type.equals("read")) return readResource(request.get("resource").asText(), client.id, token);
            if (token == null) return answer("fail", NOT_CAMPAIGNING, client.currentSession());
            return writeResource(request.get("resource").asText(), client.id, token, candidacy.session, request.get("value").asLong());
        }
        HoldKey key = new HoldKey(request.path("lock").asText(null), request.path("access").asText(null));
        Hold hold = client.holds.get(key);
        // The hold's token goes with the read, so that the resource fences older holders off from here on.
        if (type.equals("read")) return readResource(request.get("resource").asText(), client.id, hold == null ? null : hold.token);
        if (hold == null) return answer("fail", NOT_HELD, client.currentSession());
        if (type.equals("release")) return release(client, key, hold);
        if (hold.token == null) return answer("fail", "no fence token: the acquire could not read one", hold.session);
        return writeResource(request.get("resource").asText(), client.id, hold.token, hold.session, request.get("value").asLong());
    }

    ObjectNode init(JsonNode request) throws BadRequest {
        if (!clients.isEmpty()) throw new BadRequest("init: already initialised");
        if (request.get("protocolVersion").asLong() != PROTOCOL_VERSION) {
            throw new BadRequest("init: protocol version " + request.get("protocolVersion")
                + "; this worker speaks " + PROTOCOL_VERSION);
        }
        lockRoot = request.get("lockRoot").asText().replaceAll("/+$", "");
        String recipe = request.path("options").path("leaderRecipe").asText("latch");
        if (!recipe.equals("latch") && !recipe.equals("selector")) throw new BadRequest("init: options.leaderRecipe must be 'latch' or 'selector'");
        leaderRecipe = recipe;
        String connect = request.get("connect").asText();
        sessionTimeoutMs = request.get("sessionTimeoutMs").asInt();
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
        (zookeeperRecipes ? ZOOKEEPER_FEATURES : CURATOR_FEATURES).forEach(ok.putArray("features")::add);
        return ok;
    }

    /** On the client's lock thread. */
    ObjectNode acquire(Client client, JsonNode request) {
        HoldKey key = new HoldKey(request.get("lock").asText(), request.path("access").asText(null));
        if (client.holds.containsKey(key)) return answer("fail", ALREADY_HELD, client.currentSession());
        if (key.access() != null && zookeeperRecipes) throw new IllegalStateException("ZooKeeper's recipes announce no read-write");
        String path = lockRoot + "/" + key.lock();
        Attempt attempt = request.has("permits") ? semaphoreAttempt(client, path, request.get("permits").asInt())
            : zookeeperRecipes ? writeLockAttempt(client, path) : mutexAttempt(lockSide(client, key));
        boolean isTry = request.get("mode").asText().equals("try");
        String refusal = isTry ? HELD : TIMEOUT;
        Acquired acquired;
        try {
            acquired = attempt.run(isTry ? 0 : request.has("timeoutMs") ? request.get("timeoutMs").asLong() : -1);
        } catch (KeeperException.SessionExpiredException e) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("fail", SESSION_EXPIRED, client.currentSession());
        } catch (Exception e) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("info", "acquire: " + describe(e), client.currentSession());
        }
        if (acquired == null) {
            forgetUnheldSharedLock(client, key.lock());
            return answer("fail", refusal, client.currentSession());
        }
        Hold hold = new Hold(acquired.releaser(), acquired.node(), client.currentSession());
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

    /** Curator's mutexes: no try, so a zero wait is one. */
    static Attempt mutexAttempt(LockSide side) {
        InterProcessMutex mutex = side.mutex();
        return waitMs -> {
            boolean acquired = true;
            if (waitMs < 0) mutex.acquire();
            else acquired = mutex.acquire(waitMs, TimeUnit.MILLISECONDS);
            return acquired ? new Acquired(mutex::release, side.ownNode().get()) : null;
        };
    }

    /** A fresh InterProcessSemaphoreV2 per attempt; its lease nodes live under <path>/leases. */
    static Attempt semaphoreAttempt(Client client, String path, int permits) {
        InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client.curator, path, permits);
        return waitMs -> {
            Lease lease = waitMs < 0 ? semaphore.acquire() : semaphore.acquire(waitMs, TimeUnit.MILLISECONDS);
            return lease == null ? null : new Acquired(lease::close, path + "/leases/" + lease.getNodeName());
        };
    }

    /**
     * ZooKeeper's WriteLock on the client's current ZooKeeper handle, a fresh one per attempt: lock() says at once
     * whether we own it; otherwise its LockListener says so later. Given up, unlock() deletes our node: when that
     * delete fails, unlock() throws and the node may be left (the answer is then info). Every attempt ends with
     * close(), after unlock(): the watch lock() set on the predecessor outlives unlock(), and when it fires it runs
     * lock() again, which queues a new node for an attempt nobody waits for any more, unless the WriteLock is closed
     * (see giveUp).
     */
    static Attempt writeLockAttempt(Client client, String path) {
        return waitMs -> {
            // The recipe makes the lock's node, not its parents.
            client.ensurePath(path);
            ZooKeeper zookeeper = client.curator.getZookeeperClient().getZooKeeper();
            String session = sessionHex(zookeeper.getSessionId());
            CountDownLatch owned = new CountDownLatch(1);
            WriteLock lock = new WriteLock(zookeeper, path, null, new LockListener() {
                public void lockAcquired() { owned.countDown(); }
                public void lockReleased() {}
            });
            boolean acquired;
            try {
                acquired = lock.lock() || (waitMs < 0 ? awaitForever(owned) : waitMs > 0 && owned.await(waitMs, TimeUnit.MILLISECONDS));
            } catch (Exception e) {
                giveUp(lock);
                throw e;
            }
            if (!acquired) {
                giveUp(lock);
                // Its session ended meanwhile: nothing of the attempt is left, and the recipe never noticed.
                if (client.sessionEnded(session)) throw new KeeperException.SessionExpiredException();
                return null;
            }
            return new Acquired(() -> giveUp(lock), lock.getId());
        };
    }

    /**
     * unlock(), then close() whatever unlock() did (it throws when its delete failed), both under the WriteLock's own
     * monitor: lock() and unlock() synchronize on it, so a watch firing in between cannot run lock() before close().
     */
    static void giveUp(WriteLock lock) {
        synchronized (lock) {
            try {
                lock.unlock();
            } finally {
                lock.close();
            }
        }
    }

    static boolean awaitForever(CountDownLatch latch) throws InterruptedException {
        latch.await();
        return true;
    }

    // --- elections ------------------------------------------------------------------------------------------

    /** On the client's lock thread: joins the election with the driver of this worker. */
    ObjectNode campaign(Client client, String election) {
        if (client.candidacies.containsKey(election)) return answer("fail", ALREADY_CAMPAIGNING, client.currentSession());
        String session = client.currentSession();
        Candidacy candidacy = new Candidacy(client, election, lockRoot + "/" + election, client.id + "#" + candidacyCount.incrementAndGet());
        // Kept on any outcome but a definite fail, so that the workload's resign withdraws whatever was started.
        client.candidacies.put(election, candidacy);
        try {
            if (zookeeperRecipes) {
                String failure = startElectionSupport(candidacy);
                if (failure != null) return answer("info", failure, session);
            } else if (leaderRecipe.equals("selector")) {
                startSelector(candidacy);
            } else {
                startLatch(candidacy);
            }
        } catch (Exception e) {
            return answer("info", "campaign: " + describe(e), session);
        }
        return answer("ok", null, session);
    }

    /** Curator's LeaderLatch; its listener runs on the client's leader thread. close() is silent (no notLeader). */
    void startLatch(Candidacy candidacy) throws Exception {
        LeaderLatch latch = new LeaderLatch(candidacy.client.curator, candidacy.path, candidacy.participantId);
        latch.addListener(new LeaderLatchListener() {
            public void isLeader() { candidacy.elected(); }
            public void notLeader() { candidacy.deposed(); }
        }, candidacy.client.leaderThread);
        candidacy.withdrawal = latch::close;
        latch.start();
    }

    /**
     * Curator's LeaderSelector, requeued after each leadership as Curator recommends: it leads while takeLeadership
     * runs, which waits for the resign; the adapter cancels the leadership on SUSPENDED and LOST (an interrupt).
     */
    void startSelector(Candidacy candidacy) {
        LeaderSelector selector = new LeaderSelector(candidacy.client.curator, candidacy.path, new LeaderSelectorListenerAdapter() {
            public void takeLeadership(CuratorFramework framework) throws Exception {
                candidacy.elected();
                try {
                    candidacy.resigning.await();
                } finally {
                    candidacy.deposed();
                }
            }
        });
        selector.setId(candidacy.participantId);
        selector.autoRequeue();
        candidacy.withdrawal = selector::close;
        selector.start();
    }

    /**
     * ZooKeeper's LeaderElectionSupport on the client's current handle, the participant id as its host name. It
     * assumes the election's node exists, so we make it first. start() offers and determines at once; a FAILED
     * event during it answers the campaign info (the offer may be in the queue). No session handling: a leader whose
     * session expires stays ELECTED, as the recipe leaves it.
     */
    String startElectionSupport(Candidacy candidacy) throws Exception {
        candidacy.client.ensurePath(candidacy.path);
        LeaderElectionSupport support = new LeaderElectionSupport();
        support.setZooKeeper(candidacy.client.curator.getZookeeperClient().getZooKeeper());
        support.setRootNodeName(candidacy.path);
        support.setHostName(candidacy.participantId);
        AtomicBoolean failed = new AtomicBoolean();
        support.addListener(event -> {
            switch (event) {
                case ELECTED_COMPLETE -> candidacy.client.leaderThread.execute(candidacy::elected);
                case FAILED -> {
                    failed.set(true);
                    candidacy.client.leaderThread.execute(candidacy::deposed);
                }
                default -> { }
            }
        });
        candidacy.withdrawal = support::stop;
        support.start();
        return failed.get() ? "the election support failed while it made its offer (see the log)" : null;
    }

    /**
     * On the client's lock thread. Withdraws with the driver's own close or stop, then waits (a bounded time) for the
     * candidate node to go: LeaderLatch and LeaderSelector delete it in the background, and LeaderElectionSupport
     * swallows a failed delete. ok once no child of the election carries our participant id.
     */
    ObjectNode resign(Client client, String election) {
        Candidacy candidacy = client.candidacies.remove(election);
        if (candidacy == null) return answer("fail", NOT_CAMPAIGNING, client.currentSession());
        // Whatever the answer, the client no longer campaigns nor leads.
        candidacy.resign();
        Withdrawal withdrawal = candidacy.withdrawal;
        try {
            if (withdrawal != null) withdrawal.run();
        } catch (Exception e) {
            return answer("info", "resign: " + describe(e), client.currentSession());
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos((long) RESIGN_WAIT_SESSIONS * sessionTimeoutMs);
        String last = "";
        for (;;) {
            try {
                if (client.nodeWithData(candidacy.path, candidacy.participantId) == null) return answer("ok", null, client.currentSession());
                last = "the candidate node is still there";
            } catch (KeeperException.NoNodeException e) {
                return answer("ok", null, client.currentSession());
            } catch (Exception e) {
                last = describe(e);
            }
            if (System.nanoTime() > deadline) return answer("info", "resigned, but whether the candidate node is gone is unknown: " + last, client.currentSession());
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return answer("info", "resign: interrupted", client.currentSession());
            }
        }
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
            hold.releaser.release();
        } catch (Exception e) {
            // The node was gone before: whatever the release tripped over (ZooKeeper's unlock on the expired
            // session's handle), nothing of the hold is left.
            if (Boolean.TRUE.equals(lost)) return answer("fail", LOST, client.currentSession());
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

    /** The write with a hold's or a leader's token: accepted → ok; rejected → fail; no clear answer → info. */
    ObjectNode writeResource(String url, String clientId, long token, String session, long value) {
        HttpResult result;
        try {
            result = httpJson(url, JSON.createObjectNode().put("client", clientId).put("token", token).put("value", value));
        } catch (IOException | IllegalArgumentException e) {
            return answer("info", "POST " + url + ": " + describe(e), session);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return answer("info", "POST " + url + ": interrupted", session);
        }
        JsonNode accepted = result.body().path("accepted");
        if (result.status() != 200 || !accepted.isBoolean()) {
            return answer("info", "POST " + url + ": HTTP " + result.status() + " without a verdict", session);
        }
        return accepted.asBoolean() ? answer("ok", null, session) : answer("fail", REJECTED, session);
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
