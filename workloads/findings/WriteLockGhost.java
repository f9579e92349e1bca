// Drives ZooKeeper's WriteLock (zookeeper-recipes-lock) directly, step by step: a contender that gives up with
// unlock() while waiting behind a holder. Prints what happens after the holder releases, one fact per line:
// `java -cp <zk-recipes classpath> WriteLockGhost.java <connect> <lock path> unlock|unlock-close`.
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;

public class WriteLockGhost {
    static ZooKeeper connected(String connect) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zookeeper = new ZooKeeper(connect, 4000, event -> {
            if (event.getState() == org.apache.zookeeper.Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + connect);
        return zookeeper;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0], path = args[1];
        boolean close = args[2].equals("unlock-close");
        ZooKeeper holderSession = connected(connect), giverSession = connected(connect);
        // The recipe makes its lock's node, not the parents.
        String prefix = "";
        for (String part : path.substring(1).split("/")) {
            prefix += "/" + part;
            try {
                holderSession.create(prefix, new byte[0], org.apache.zookeeper.ZooDefs.Ids.OPEN_ACL_UNSAFE, org.apache.zookeeper.CreateMode.PERSISTENT);
            } catch (org.apache.zookeeper.KeeperException.NodeExistsException e) {
                // there already
            }
        }
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
}
