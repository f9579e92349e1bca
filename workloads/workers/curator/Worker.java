// Curator worker: drives Apache Curator's InterProcessMutex, exactly as Debian ships it, through
// docs/worker-protocol.md. One process is one client host: one CuratorFramework (one ZooKeeper session) per
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
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.BoundedExponentialBackoffRetry;
import org.apache.zookeeper.data.Stat;

public class Worker {
    static final int PROTOCOL_VERSION = 1;
    static final Duration HTTP_TIMEOUT = Duration.ofSeconds(5);
    static final int CONNECT_TIMEOUT_FLOOR_MS = 10_000;

    public static void main(String[] args) throws Exception {
        // Quiet by default, on stderr; a user may still pass -Dorg.slf4j.simpleLogger.defaultLogLevel=info.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        // The protocol owns stdout: anything a library prints goes to stderr.
        Output output = new Output(new FileOutputStream(FileDescriptor.out));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        new Worker(output).serve(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)));
        System.exit(0);
    }

    static final ObjectMapper JSON = new ObjectMapper();

    /** The protocol does not hold: answered with `error`, the worker keeps serving. */
    static final class BadRequest extends Exception {
        BadRequest(String message) { super(message); }
    }

    /** stdout: one JSON document per line, never interleaved; a vanished reader is not our problem. */
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

    static String sessionHex(long sessionId) { return "0x" + Long.toHexString(sessionId); }

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
            new Field("mode", Kind.STRING, true), new Field("timeoutMs", Kind.INTEGER, false)),
        "release", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true)),
        "fenced-write", List.of(new Field("client", Kind.STRING, true), new Field("lock", Kind.STRING, true),
            new Field("resource", Kind.STRING, true), new Field("value", Kind.INTEGER, true)),
        "read", List.of(new Field("client", Kind.STRING, true), new Field("resource", Kind.STRING, true)));

    static void validate(JsonNode request) throws BadRequest {
        String type = request.path("type").asText(null);
        List<Field> fields = type == null ? null : REQUEST_FIELDS.get(type);
        if (fields == null) throw new BadRequest("unknown request type " + request.path("type"));
        for (Field field : fields) {
            JsonNode value = request.get(field.name());
            if (value == null) {
                if (field.required()) throw new BadRequest(type + ": missing field '" + field.name() + "'");
                continue;
            }
            boolean typed = switch (field.kind()) {
                case STRING -> value.isTextual();
                case INTEGER -> value.canConvertToLong() && value.isIntegralNumber();
                case OBJECT -> value.isObject();
                case ARRAY -> value.isArray();
            };
            if (!typed) throw new BadRequest(type + ": field '" + field.name() + "' has the wrong type");
        }
        if (type.equals("acquire")) {
            String mode = request.get("mode").asText();
            if (!mode.equals("try") && !mode.equals("blocking")) {
                throw new BadRequest("acquire: mode must be 'try' or 'blocking'");
            }
            if (request.has("timeoutMs") && request.get("timeoutMs").asLong() <= 0) {
                throw new BadRequest("acquire: timeoutMs must be positive");
            }
        }
    }

    // --- one ZooKeeper session per client ------------------------------------------------------------------

    /** InterProcessMutex keeps the node of the thread that holds it; this exposes it to read its czxid. */
    static final class FencedMutex extends InterProcessMutex {
        FencedMutex(CuratorFramework curator, String path) { super(curator, path); }
        String ownNode() { return getLockPath(); }
    }

    record Held(FencedMutex mutex, Long token) {}

    final class Client {
        final String id;
        final CuratorFramework curator;
        // InterProcessMutex belongs to the thread that acquired it: all acquires and releases of one client run
        // on one thread of their own, so that a blocked acquire stalls nobody else.
        final ExecutorService lockThread;
        final Map<String, Held> held = new ConcurrentHashMap<>();
        volatile String session;

        Client(String id, String connect, int sessionTimeoutMs) {
            this.id = id;
            this.lockThread = Executors.newSingleThreadExecutor(daemonThreads("lock-" + id));
            this.curator = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(sessionTimeoutMs)
                // Bounded: a call that cannot reach ZooKeeper gives up after a few tries and is answered `info`.
                .retryPolicy(new BoundedExponentialBackoffRetry(100, 1000, 3))
                .threadFactory(daemonThreads("curator-" + id))
                .runSafeService(sharedCallbacks)
                .build();
            curator.getConnectionStateListenable().addListener((framework, state) -> onState(state));
        }

        /** Runs on Curator's connection-state thread: record the session and report the change. */
        private void onState(ConnectionState state) {
            if (closing) return;
            String event = switch (state) {
                case CONNECTED, RECONNECTED, READ_ONLY -> {
                    session = liveSession();
                    yield "connected";
                }
                case SUSPENDED -> "disconnected";
                case LOST -> "expired";
            };
            ObjectNode message = JSON.createObjectNode().put("type", "event").put("client", id).put("event", event);
            if (session != null) message.put("session", session);
            output.send(message);
        }

        private String liveSession() {
            try {
                long sessionId = curator.getZookeeperClient().getZooKeeper().getSessionId();
                return sessionId == 0 ? null : sessionHex(sessionId);
            } catch (Exception e) {
                return null;
            }
        }

        String currentSession() {
            String live = liveSession();
            return live != null ? live : session;
        }
    }

    // --- the worker ----------------------------------------------------------------------------------------

    final Output output;
    final Map<String, Client> clients = new LinkedHashMap<>();
    final ExecutorService sharedCallbacks = Executors.newSingleThreadExecutor(daemonThreads("curator-callbacks"));
    final ExecutorService httpRequests = Executors.newCachedThreadPool(daemonThreads("http"));
    final HttpClient http = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
    volatile boolean closing;
    String lockRoot;

    Worker(Output output) { this.output = output; }

    void serve(BufferedReader input) throws IOException {
        String line;
        while ((line = input.readLine()) != null) {
            if (line.isBlank()) continue;
            Long requestId = null;
            try {
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
                requestId = id.asLong();
                validate(request);
                dispatch(requestId, request);
            } catch (BadRequest e) {
                send(requestId, error(e.getMessage()));
            }
        }
        close();
    }

    /** init runs here, in order; lock operations on their client's thread; HTTP on a shared pool. */
    void dispatch(long requestId, JsonNode request) throws BadRequest {
        String type = request.get("type").asText();
        if (type.equals("init")) {
            send(requestId, init(request));
            return;
        }
        if (clients.isEmpty()) throw new BadRequest(type + " before init");
        Client client = clients.get(request.get("client").asText());
        if (client == null) throw new BadRequest("unknown client '" + request.get("client").asText() + "'");
        ExecutorService executor = switch (type) {
            case "acquire", "release" -> client.lockThread;
            default -> httpRequests;
        };
        executor.execute(() -> send(requestId, perform(client, type, request)));
    }

    ObjectNode perform(Client client, String type, JsonNode request) {
        try {
            return switch (type) {
                case "acquire" -> acquire(client, request);
                case "release" -> release(client, request.get("lock").asText());
                case "fenced-write" -> fencedWrite(client, request);
                default -> read(request.get("resource").asText());
            };
        } catch (BadRequest e) {
            return error(e.getMessage());
        } catch (RuntimeException e) {
            // A bug or an unexpected library error: the outcome is unknown; keep serving.
            e.printStackTrace();
            return reply("info").put("error", "worker: " + describe(e));
        }
    }

    void send(Long requestId, ObjectNode answer) {
        if (requestId == null) answer.putNull("in_reply_to");
        else answer.put("in_reply_to", requestId);
        output.send(answer);
    }

    static ObjectNode reply(String type) { return JSON.createObjectNode().put("type", type); }

    static ObjectNode error(String message) { return reply("error").put("error", message); }

    static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + " " + e.getMessage();
    }

    ObjectNode init(JsonNode request) throws BadRequest {
        if (!clients.isEmpty()) throw new BadRequest("init: already initialised");
        if (request.get("protocolVersion").asLong() != PROTOCOL_VERSION) {
            throw new BadRequest("init: protocol version " + request.get("protocolVersion")
                + ", this worker speaks " + PROTOCOL_VERSION);
        }
        List<String> ids = new ArrayList<>();
        for (JsonNode id : request.get("clients")) {
            if (!id.isTextual()) throw new BadRequest("init: clients must be a list of strings");
            ids.add(id.asText());
        }
        if (ids.isEmpty()) throw new BadRequest("init: clients must not be empty");
        lockRoot = request.get("lockRoot").asText().replaceAll("/+$", "");
        String connect = request.get("connect").asText();
        int sessionTimeoutMs = request.get("sessionTimeoutMs").asInt();
        try {
            for (String id : ids) clients.put(id, new Client(id, connect, sessionTimeoutMs));
        } catch (IllegalArgumentException e) {
            clients.clear();
            throw new BadRequest("init: " + describe(e));
        }
        // Connect all sessions at once: hundreds in a row would take seconds.
        clients.values().forEach(c -> c.curator.start());
        long deadline = System.nanoTime()
            + TimeUnit.MILLISECONDS.toNanos(Math.max(CONNECT_TIMEOUT_FLOOR_MS, 3L * sessionTimeoutMs));
        List<String> unconnected = new ArrayList<>();
        for (Client client : clients.values()) {
            long leftMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            try {
                if (!client.curator.blockUntilConnected((int) leftMs, TimeUnit.MILLISECONDS)) unconnected.add(client.id);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                unconnected.add(client.id);
            }
        }
        if (!unconnected.isEmpty()) {
            return error("could not connect " + unconnected.size() + " of " + clients.size() + " clients to "
                + connect + " (first: " + unconnected.get(0) + ")");
        }
        return reply("init_ok");
    }

    /** Runs on the client's lock thread. */
    ObjectNode acquire(Client client, JsonNode request) throws BadRequest {
        String name = request.get("lock").asText();
        if (client.held.containsKey(name)) {
            throw new BadRequest("acquire: client " + client.id + " already holds " + name);
        }
        // A fresh mutex per attempt, like the kazoo worker: InterProcessMutex would otherwise re-enter.
        FencedMutex mutex = new FencedMutex(client.curator, lockRoot + "/" + name);
        boolean acquired;
        try {
            if (request.get("mode").asText().equals("try")) {
                acquired = mutex.acquire(0, TimeUnit.MILLISECONDS); // Curator has no try: a zero wait is one
            } else if (request.has("timeoutMs")) {
                acquired = mutex.acquire(request.get("timeoutMs").asLong(), TimeUnit.MILLISECONDS);
            } else {
                mutex.acquire();
                acquired = true;
            }
        } catch (Exception e) {
            return reply("info").put("error", "acquire: " + describe(e)).put("session", client.currentSession());
        }
        if (!acquired) return reply("fail").put("session", client.currentSession());
        String node = mutex.ownNode();
        client.held.put(name, new Held(mutex, null));
        // The fence token is the czxid of our own lock node, read right after acquiring.
        Stat stat;
        try {
            stat = client.curator.checkExists().forPath(node);
        } catch (Exception e) {
            return reply("info").put("node", node).put("session", client.currentSession())
                .put("error", "acquired, but the fence token could not be read: " + describe(e));
        }
        if (stat == null) {
            return reply("info").put("node", node).put("session", client.currentSession())
                .put("error", "acquired, but the lock node was already gone (session expired?)");
        }
        client.held.put(name, new Held(mutex, stat.getCzxid()));
        return reply("ok").put("token", stat.getCzxid()).put("node", node)
            .put("session", sessionHex(stat.getEphemeralOwner()));
    }

    /** Runs on the client's lock thread: the one that acquired. */
    ObjectNode release(Client client, String name) {
        Held entry = client.held.remove(name);
        if (entry == null) {
            return reply("fail").put("error", "release: client " + client.id + " does not hold " + name)
                .put("session", client.currentSession());
        }
        try {
            entry.mutex().release();
        } catch (Exception e) {
            // Curator forgets the lock either way and keeps deleting the node in the background (guaranteed
            // delete); whether the node is gone yet is unknown.
            return reply("info").put("error", "release: " + describe(e)).put("session", client.currentSession());
        }
        return reply("ok").put("session", client.currentSession());
    }

    ObjectNode fencedWrite(Client client, JsonNode request) {
        String name = request.get("lock").asText();
        Held entry = client.held.get(name);
        if (entry == null || entry.token() == null) {
            return reply("fail").put("error", "fenced-write: client " + client.id + " holds no token for " + name);
        }
        ObjectNode body = JSON.createObjectNode().put("client", client.id).put("token", entry.token())
            .put("value", request.get("value").asLong());
        return httpExchange(request.get("resource").asText(), body);
    }

    ObjectNode read(String url) {
        ObjectNode answer = httpExchange(url, null);
        if (!answer.path("type").asText().equals("ok")) return answer;
        JsonNode value = answer.remove("body").path("value");
        if (!value.isNumber()) return reply("fail").put("error", "read: resource answered no numeric value");
        return answer.set("value", value);
    }

    /** GET (body null) or POST JSON. 2xx → ok; a definite refusal → fail; no answer → info. */
    ObjectNode httpExchange(String url, ObjectNode body) {
        String method = body == null ? "GET" : "POST";
        HttpResponse<String> response;
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(HTTP_TIMEOUT);
            if (body != null) {
                request.header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            }
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            // Refused before anything was sent: definitely not applied.
            return reply("fail").put("error", method + " " + url + ": " + describe(e));
        } catch (IOException | IllegalArgumentException e) {
            return reply("info").put("error", method + " " + url + ": " + describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return reply("info").put("error", method + " " + url + ": interrupted");
        }
        int status = response.statusCode();
        if (status >= 300) {
            // The resource answered: a 4xx is a definite rejection; a 5xx may have applied the write.
            String kind = status >= 400 && status < 500 ? "fail" : "info";
            return reply(kind).put("error", method + " " + url + ": HTTP " + status);
        }
        ObjectNode answer = reply("ok");
        if (body == null) {
            try {
                answer.set("body", JSON.readTree(response.body().isEmpty() ? "{}" : response.body()));
            } catch (IOException e) {
                return reply("fail").put("error", "GET " + url + ": the answer is not JSON");
            }
        }
        return answer;
    }

    void close() {
        closing = true;
        // Closing a session deletes its ephemeral nodes at once; hundreds are closed side by side.
        clients.values().parallelStream().forEach(client -> client.curator.close());
    }
}
