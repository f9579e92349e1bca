// Drives ZooKeeper's LeaderElectionSupport (zookeeper-recipes-election) directly, step by step: a candidate whose
// predecessor resigns determines its place while other offers go away. Prints what follows, one fact per line:
// `java -cp <zk-recipes classpath> ElectionDetermineRace.java <connect> <election path>`.
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;

public class ElectionDetermineRace {
    /** Other candidates' offers behind ours: their departure during our determination is the race. */
    static final int OTHERS = 200;

    static ZooKeeper connected(String connect) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zookeeper = new ZooKeeper(connect, 4000, event -> {
            if (event.getState() == org.apache.zookeeper.Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + connect);
        return zookeeper;
    }

    static String offer(ZooKeeper zookeeper, String path, String host) throws Exception {
        return zookeeper.create(path + "/n_", host.getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0], path = args[1];
        ZooKeeper others = connected(connect), ours = connected(connect);
        String prefix = "";
        for (String part : path.substring(1).split("/")) {
            prefix += "/" + part;
            try {
                others.create(prefix, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // there already
            }
        }
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
        for (int i = 0; i < OTHERS; i++) behind.add(offer(others, path, "other-" + i));
        // The leader resigns: the candidate's watch fires and it reads every offer; meanwhile the others resign too.
        others.delete(leader, -1);
        CountDownLatch gone = new CountDownLatch(OTHERS);
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
