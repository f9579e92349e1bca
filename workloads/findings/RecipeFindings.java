// Drives ZooKeeper's own recipes (zookeeper-recipes-lock's WriteLock, zookeeper-recipes-election's
// LeaderElectionSupport) directly, step by step, for workloads/recipe-findings.test.ts. One fact per line on stdout:
// `java -cp <zk-recipes classpath> RecipeFindings.java <connect> <path> <finding>`, the finding one of
//   ghost, ghost-close: a WriteLock contender gives up with unlock() (then close()) while waiting behind a holder;
//     what happens once the holder releases.
//   lost-wakeup: a WriteLock contender whose predecessor goes between the recipe's listing of the queue and its
//     exists() watch. The race is a round trip wide, so each attempt deletes the predecessor after a random delay
//     and asks the servers (4lw `wchp`) whether anyone still watches the holder's node; the first attempt that left
//     none is followed to its end.
//   election: a LeaderElectionSupport candidate whose predecessor resigns determines its place while other offers go.
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;

public class RecipeFindings {
    static final int LOST_WAKEUP_ATTEMPTS = 300;
    /** Other candidates' offers behind ours: their departure during our determination is the race. */
    static final int OTHER_OFFERS = 200;

    public static void main(String[] args) throws Exception {
        String connect = args[0], path = args[1];
        switch (args[2]) {
            case "ghost" -> ghost(connect, path, false);
            case "ghost-close" -> ghost(connect, path, true);
            case "lost-wakeup" -> lostWakeup(connect, path);
            case "election" -> election(connect, path);
            default -> throw new IllegalArgumentException("unknown finding " + args[2]);
        }
    }

    static ZooKeeper connected(String connect) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zookeeper = new ZooKeeper(connect, 4000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + connect);
        return zookeeper;
    }

    /** The recipes make their own node, not its parents. */
    static void makeParents(ZooKeeper zookeeper, String path) throws Exception {
        String prefix = "";
        for (String part : path.substring(1).split("/")) {
            prefix += "/" + part;
            try {
                zookeeper.create(prefix, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // there already
            }
        }
    }

    /** Whether any server of the ensemble has a watch on `path` (the four-letter word wchp lists watches by path). */
    static boolean watched(String connect, String path) throws Exception {
        for (String server : connect.split(",")) {
            String[] hostPort = server.split(":");
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 2000);
                socket.getOutputStream().write("wchp".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                ByteArrayOutputStream text = new ByteArrayOutputStream();
                socket.getInputStream().transferTo(text);
                for (String line : text.toString(StandardCharsets.UTF_8).split("\n")) if (line.trim().equals(path)) return true;
            }
        }
        return false;
    }

    static String offer(ZooKeeper zookeeper, String path, String host) throws Exception {
        return zookeeper.create(path + "/n_", host.getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
    }

    static void ghost(String connect, String path, boolean close) throws Exception {
        ZooKeeper holderSession = connected(connect), giverSession = connected(connect);
        makeParents(holderSession, path);
        WriteLock holder = new WriteLock(holderSession, path, null);
        System.out.println("holder locks: " + holder.lock());
        CountDownLatch acquired = new CountDownLatch(1);
        WriteLock giver = new WriteLock(giverSession, path, null, new LockListener() {
            public void lockAcquired() { acquired.countDown(); }
            public void lockReleased() {}
        });
        System.out.println("giver locks: " + giver.lock());
        giver.unlock();
        if (close) giver.close();
        System.out.println("nodes after the giver gave up: " + holderSession.getChildren(path, false).size());
        holder.unlock();
        System.out.println("giver acquired after the holder released: " + acquired.await(5, TimeUnit.SECONDS));
        List<String> children = holderSession.getChildren(path, false);
        long giverOwned = 0;
        for (String child : children) {
            Stat stat = holderSession.exists(path + "/" + child, false);
            if (stat != null && stat.getEphemeralOwner() == giverSession.getSessionId()) giverOwned++;
        }
        System.out.println("nodes of the giver's session left: " + giverOwned);
        holderSession.close();
        giverSession.close();
    }

    static void lostWakeup(String connect, String path) throws Exception {
        ZooKeeper holderSession = connected(connect), otherSession = connected(connect);
        makeParents(holderSession, path);
        WriteLock holder = new WriteLock(holderSession, path, null);
        System.out.println("holder locks: " + holder.lock());
        String holderNode = holder.getId();
        Random random = new Random(1);
        for (int attempt = 1; attempt <= LOST_WAKEUP_ATTEMPTS; attempt++) {
            // The contender's predecessor: a node of another session, queued between the holder and the contender.
            String predecessor = otherSession.create(path + "/x-" + otherSession.getSessionId() + "-", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            // A session per attempt: a closed session takes its watches with it, so none is left from the last attempt.
            ZooKeeper contenderSession = connected(connect);
            CountDownLatch acquired = new CountDownLatch(1);
            WriteLock contender = new WriteLock(contenderSession, path, null, new LockListener() {
                public void lockAcquired() { acquired.countDown(); }
                public void lockReleased() {}
            });
            Thread locking = new Thread(() -> {
                try {
                    contender.lock();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long delayMicros = random.nextInt(6_000);
            locking.start();
            TimeUnit.MICROSECONDS.sleep(delayMicros);
            otherSession.delete(predecessor, -1);
            locking.join();
            Thread.sleep(200); // any watch that fired has been followed by now
            if (!watched(connect, holderNode)) {
                System.out.println("attempts until the predecessor went inside the window: " + attempt);
                System.out.println("the contender watches the holder's node: false");
                holder.unlock();
                System.out.println("contender acquired after the holder released: " + acquired.await(3, TimeUnit.SECONDS));
                List<String> children = holderSession.getChildren(path, false);
                System.out.println("nodes left: " + children.size());
                System.out.println("the contender's node is the lowest: " + (children.size() == 1 && (path + "/" + children.get(0)).equals(contender.getId())));
                contenderSession.close();
                otherSession.close();
                holderSession.close();
                return;
            }
            contender.unlock();
            contender.close();
            contenderSession.close();
        }
        System.out.println("attempts until the predecessor went inside the window: none of " + LOST_WAKEUP_ATTEMPTS);
    }

    static void election(String connect, String path) throws Exception {
        ZooKeeper others = connected(connect), ours = connected(connect);
        makeParents(others, path);
        String leader = offer(others, path, "leader");
        Set<LeaderElectionSupport.EventType> seen = ConcurrentHashMap.newKeySet();
        LeaderElectionSupport candidate = new LeaderElectionSupport();
        candidate.setZooKeeper(ours);
        candidate.setRootNodeName(path);
        candidate.setHostName("candidate");
        candidate.addListener(seen::add);
        candidate.start();
        System.out.println("candidate ready behind the leader: " + seen.contains(LeaderElectionSupport.EventType.READY_COMPLETE));
        List<String> behind = new ArrayList<>();
        for (int i = 0; i < OTHER_OFFERS; i++) behind.add(offer(others, path, "other-" + i));
        // The leader resigns: the candidate's watch fires and it reads every offer; meanwhile the others resign too.
        others.delete(leader, -1);
        CountDownLatch gone = new CountDownLatch(OTHER_OFFERS);
        for (String node : behind) others.delete(node, -1, (rc, p, context) -> gone.countDown(), null);
        gone.await(30, TimeUnit.SECONDS);
        Thread.sleep(3_000);
        List<String> left = others.getChildren(path, false);
        System.out.println("candidate failed: " + seen.contains(LeaderElectionSupport.EventType.FAILED));
        System.out.println("candidate elected: " + seen.contains(LeaderElectionSupport.EventType.ELECTED_COMPLETE));
        System.out.println("offers left: " + left.size());
        System.out.println("the candidate's offer is the lowest: " + (left.size() == 1 && new String(others.getData(path + "/" + left.get(0), false, null)).equals("candidate")));
        ours.close();
        others.close();
    }
}
