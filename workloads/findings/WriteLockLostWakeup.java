// Drives ZooKeeper's WriteLock (zookeeper-recipes-lock) directly: a contender whose predecessor goes between the
// recipe's listing of the queue and its exists() watch on that predecessor. The recipe then returns without any
// watch (it logs "Could not find the stats for less than me") and never looks again. The race is a round trip
// wide, so each attempt deletes the predecessor after a random delay and asks the servers (4lw `wchp`) whether
// anyone still watches the holder's node; the first attempt that left none is followed to its end.
// `java -cp <zk-recipes classpath> WriteLockLostWakeup.java <connect> <lock path>`; one fact per line.
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;

public class WriteLockLostWakeup {
    static final int ATTEMPTS = 300;

    static ZooKeeper connected(String connect) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zookeeper = new ZooKeeper(connect, 4000, event -> {
            if (event.getState() == org.apache.zookeeper.Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + connect);
        return zookeeper;
    }

    /** Whether any server of the ensemble has a watch on `path` (the four-letter word wchp lists watches by path). */
    static boolean watched(String connect, String path) throws Exception {
        for (String server : connect.split(",")) {
            String[] hostPort = server.split(":");
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 2000);
                OutputStream out = socket.getOutputStream();
                out.write("wchp".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = socket.getInputStream();
                ByteArrayOutputStream text = new ByteArrayOutputStream();
                in.transferTo(text);
                for (String line : text.toString(StandardCharsets.UTF_8).split("\n")) if (line.trim().equals(path)) return true;
            }
        }
        return false;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0], path = args[1];
        ZooKeeper holderSession = connected(connect), otherSession = connected(connect);
        String prefix = "";
        for (String part : path.substring(1).split("/")) {
            prefix += "/" + part;
            try {
                holderSession.create(prefix, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // there already
            }
        }
        WriteLock holder = new WriteLock(holderSession, path, null);
        System.out.println("holder locks: " + holder.lock());
        String holderNode = holder.getId();
        Random random = new Random(1);
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
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
        System.out.println("attempts until the predecessor went inside the window: none of " + ATTEMPTS);
    }
}
