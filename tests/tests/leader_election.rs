//! Leader election against a real kube-apiserver: replicas are electors in
//! this process, each with its own client; while leading, a replica writes
//! `(identity, sequence)` to a ConfigMap, checking before each write that it
//! still leads. A ledger records every replica's acting interval on one
//! monotonic clock, and each test asserts the correctness property: no two
//! replicas ever act at once. Takeover and warm/cold figures are printed
//! (recorded in docs/benchmarks.md), not asserted beyond sanity bounds.
//!
//! ```sh
//! KUBE_TESTENV=$PWD/target/testenv/kube-testenv KUBECTL=$PWD/target/testenv/kubectl \
//!     cargo test -p bot-tests --test leader_election -- --nocapture --test-threads=1
//! ```

mod common;
use common::eventually_within;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use bot_runtime::{
    Action, Controller, InformerConfig, ObjectKey, SharedIndexInformer,
    k8s_openapi::api::{coordination::v1::Lease, core::v1::ConfigMap},
    leader::{LeaderElectionConfig, LeaderElector, LeaderGate, LeaderQueue, Leadership},
    testenv::TestEnv,
};
use futures::{StreamExt, stream};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    runtime::watcher,
};
use serde_json::json;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
    task::{AbortHandle, JoinHandle},
};

const LEASE: &str = "leader-election-test";
const LOG: &str = "leader-log";
const LEASE_DURATION: Duration = Duration::from_secs(3);
const RENEW_DEADLINE: Duration = Duration::from_secs(2);
const RETRY_PERIOD: Duration = Duration::from_millis(500);
const WAIT: Duration = Duration::from_secs(30);

fn config(namespace: &str, identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig::new(LEASE, namespace)
        .identity(identity)
        .lease_duration(LEASE_DURATION)
        .renew_deadline(RENEW_DEADLINE)
        .retry_period(RETRY_PERIOD)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------
// The ledger: who acted when, on one monotonic clock.

#[derive(Clone, Debug)]
struct Interval {
    who: String,
    start: Instant,
    end: Option<Instant>,
    writes: u64,
}

#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<Vec<Interval>>>);

/// One acting interval; dropping it (the work ends or is dropped) closes it.
struct Acting {
    ledger: Ledger,
    index: usize,
}

impl Ledger {
    fn begin(&self, who: &str) -> Acting {
        let mut all = self.0.lock().unwrap();
        all.push(Interval { who: who.to_owned(), start: Instant::now(), end: None, writes: 0 });
        Acting { ledger: self.clone(), index: all.len() - 1 }
    }

    fn snapshot(&self) -> Vec<Interval> {
        self.0.lock().unwrap().clone()
    }

    /// The first interval started at or after `after`.
    async fn next_start(&self, after: Instant) -> Result<Interval> {
        eventually_within(WAIT, "a replica to start acting", || {
            let ledger = self.clone();
            async move { Ok(ledger.snapshot().into_iter().find(|i| i.start >= after)) }
        })
        .await
    }

    /// The correctness property: sorted by start, each interval ends before
    /// the next begins (an open interval counts as open until now).
    fn assert_no_overlap(&self) -> Result<usize> {
        let mut all = self.snapshot();
        all.sort_by_key(|i| i.start);
        let now = Instant::now();
        for pair in all.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let a_end = a.end.unwrap_or(now);
            anyhow::ensure!(
                a_end <= b.start,
                "{} acted until {} after {} started acting: overlap {} ({all:#?})",
                a.who,
                secs(a_end - a.start),
                b.who,
                secs(a_end - b.start)
            );
        }
        Ok(all.len())
    }
}

impl Acting {
    fn wrote(&self) {
        self.ledger.0.lock().unwrap()[self.index].writes += 1;
    }
}

impl Drop for Acting {
    fn drop(&mut self) {
        if let Ok(mut all) = self.ledger.0.lock() {
            all[self.index].end = Some(Instant::now());
        }
    }
}

/// A replica's work while leading: write `(identity, sequence)` every 50 ms,
/// checking first that it still leads; then idle until the term ends.
async fn act(leadership: Leadership, who: String, ledger: Ledger, api: Api<ConfigMap>) {
    {
        let acting = ledger.begin(&who);
        let mut seq = 0u64;
        while leadership.is_leading() && !leadership.is_cancelled() {
            let patch = json!({ "data": { "holder": who, "seq": seq.to_string() } });
            // A partitioned replica's writes fail or hang; it stops when its gate closes.
            let _ = api.patch(LOG, &PatchParams::default(), &Patch::Merge(&patch)).await;
            acting.wrote();
            seq += 1;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = leadership.cancelled() => {}
            }
        }
    }
    leadership.cancelled().await;
}

// ---------------------------------------------------------------------------
// Replicas.

struct Replica {
    id: String,
    gate: LeaderGate,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Replica {
    fn spawn(client: Client, namespace: &str, id: &str, ledger: &Ledger) -> Result<Self> {
        let elector = LeaderElector::new(client.clone(), config(namespace, id))?;
        let gate = elector.gate();
        let (stop, stopped) = oneshot::channel::<()>();
        let api: Api<ConfigMap> = Api::namespaced(client, namespace);
        let (who, ledger) = (id.to_owned(), ledger.clone());
        let task = tokio::spawn(elector.run(
            async move {
                let _ = stopped.await;
            },
            move |leadership| act(leadership, who.clone(), ledger.clone(), api.clone()),
        ));
        Ok(Self { id: id.to_owned(), gate, stop: Some(stop), task })
    }

    /// Graceful stop: the work is cancelled and awaited, the lease released.
    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task).await.context("graceful stop")??;
        Ok(())
    }

    /// A crash: the task is aborted, nothing is released.
    async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn replicas(env: &TestEnv, ids: &[&str], ledger: &Ledger) -> Result<Vec<Replica>> {
    let mut all = Vec::new();
    for id in ids {
        all.push(Replica::spawn(env.control_plane().client().await?, env.namespace(), id, ledger)?);
    }
    Ok(all)
}

async fn wait_for_leader(replicas: &[Replica]) -> Result<usize> {
    eventually_within(WAIT, "a leader", || async move { Ok(replicas.iter().position(|r| r.gate.is_leader())) }).await
}

async fn create_log(env: &TestEnv) -> Result<()> {
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": LOG } }))?;
    Api::<ConfigMap>::namespaced(env.client(), env.namespace()).create(&PostParams::default(), &cm).await?;
    Ok(())
}

async fn lease(env: &TestEnv) -> Result<Lease> {
    Ok(Api::<Lease>::namespaced(env.client(), env.namespace()).get(LEASE).await?)
}

fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref()?.holder_identity.clone().filter(|h| !h.is_empty())
}

// ---------------------------------------------------------------------------
// Scenarios.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_releases_and_a_follower_takes_over_at_once() -> Result<()> {
    let env = TestEnv::start().await?;
    create_log(&env).await?;
    let ledger = Ledger::default();
    let mut replicas = replicas(&env, &["a", "b", "c"], &ledger).await?;
    let mut takeovers = Vec::new();
    while replicas.len() > 1 {
        let leader = replicas.remove(wait_for_leader(&replicas).await?);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let id = leader.id.clone();
        leader.stop().await?;
        let stopped = t0.elapsed();
        // Released: the lease is free, or already a follower's.
        let after = holder(&lease(&env).await?);
        anyhow::ensure!(after.as_deref() != Some(&*id), "{id} still holds the lease after a graceful stop");
        let next = ledger.next_start(t0).await?;
        eprintln!(
            "graceful stop of {id}: stopped and released in {}, {} acting after {}",
            secs(stopped),
            next.who,
            secs(next.start - t0)
        );
        takeovers.push(next.start - t0);
    }
    let spec = lease(&env).await?.spec.unwrap_or_default();
    assert_eq!(spec.lease_transitions, Some(2), "a -> b -> c style: two holder changes after the first");
    for r in replicas {
        r.stop().await?;
    }
    assert!(holder(&lease(&env).await?).is_none(), "the last replica released too");
    let intervals = ledger.assert_no_overlap()?;
    assert_eq!(intervals, 3);
    assert!(ledger.snapshot().iter().all(|i| i.writes > 0), "every leader wrote");
    eprintln!("graceful takeovers: {:?}", takeovers.iter().map(|d| secs(*d)).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_after_its_lease_expires() -> Result<()> {
    let env = TestEnv::start().await?;
    create_log(&env).await?;
    let ledger = Ledger::default();
    let mut replicas = replicas(&env, &["a", "b", "c"], &ledger).await?;
    let mut takeovers = Vec::new();
    while replicas.len() > 1 {
        let leader = replicas.remove(wait_for_leader(&replicas).await?);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let id = leader.id.clone();
        let t0 = Instant::now();
        leader.crash().await;
        let next = ledger.next_start(t0).await?;
        let takeover = next.start - t0;
        eprintln!("crash of {id}: {} acting after {}", next.who, secs(takeover));
        // Sanity: the crashed leader's lease was not taken early (it was
        // renewed at most a retry period before the crash).
        anyhow::ensure!(takeover >= Duration::from_secs(1), "lease of a crashed leader taken after {takeover:?}");
        takeovers.push(takeover);
    }
    for r in replicas {
        r.stop().await?;
    }
    assert_eq!(ledger.assert_no_overlap()?, 3);
    eprintln!("crash takeovers: {:?}", takeovers.iter().map(|d| secs(*d)).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_stops_acting_before_its_lease_expires_and_rejoins_as_follower() -> Result<()> {
    let env = TestEnv::start().await?;
    create_log(&env).await?;
    let ledger = Ledger::default();
    let mut upstream = env.control_plane().config().await?;
    let authority = upstream.cluster_url.authority().context("server address")?.to_string();
    let proxy = Proxy::start(authority).await?;
    upstream.cluster_url = format!("https://{}", proxy.addr).parse()?;
    let a = Replica::spawn(Client::try_from(upstream)?, env.namespace(), "a", &ledger)?;
    eventually_within(WAIT, "a to lead", || async { Ok(a.gate.is_leader().then_some(())) }).await?;
    let others = replicas(&env, &["b", "c"], &ledger).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cut = Instant::now();
    proxy.cut();
    let next = ledger.next_start(cut).await?;
    let a_end = ledger.snapshot().iter().find(|i| i.who == "a").and_then(|i| i.end).context("a stopped acting")?;
    assert!(!a.gate.is_leader());
    eprintln!(
        "partition of a: a stopped acting {} after the cut, {} acting {} after the cut (margin {})",
        secs(a_end - cut),
        next.who,
        secs(next.start - cut),
        secs(next.start - a_end)
    );
    // Its last successful renew was sent before the cut, so its lease cannot
    // have expired for the others before `cut + LEASE_DURATION`.
    anyhow::ensure!(a_end - cut < LEASE_DURATION, "a acted {:?} into the partition", a_end - cut);

    // Healed: a competes again, sees the new holder, and stays a follower.
    proxy.heal();
    tokio::time::sleep(LEASE_DURATION * 2).await;
    assert!(!a.gate.is_leader());
    assert_eq!(ledger.snapshot().iter().filter(|i| i.who == "a").count(), 1, "a did not act again");
    assert_eq!(holder(&lease(&env).await?).as_deref(), Some(&*next.who));
    a.stop().await?;
    for r in others {
        r.stop().await?;
    }
    ledger.assert_no_overlap()?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Warm standby vs cold start.

const OBJECTS: usize = 2000;

/// When the lease was acquired, the first key reconciled, and all of them.
#[derive(Default)]
struct Timeline {
    acquired: Option<Instant>,
    first: Option<Instant>,
    all: Option<Instant>,
    seen: HashSet<ObjectKey>,
}

type SharedTimeline = Arc<Mutex<Timeline>>;

fn reconciler(timeline: SharedTimeline) -> impl Fn(ObjectKey) -> futures::future::Ready<Result<Action, String>> {
    move |key| {
        let mut t = timeline.lock().unwrap();
        let now = Instant::now();
        t.first.get_or_insert(now);
        t.seen.insert(key);
        if t.seen.len() == OBJECTS {
            t.all.get_or_insert(now);
        }
        futures::future::ready(Ok(Action::Done))
    }
}

fn standby_informer(api: &Api<ConfigMap>) -> Arc<SharedIndexInformer<ConfigMap>> {
    let config = InformerConfig::new().watcher(watcher::Config::default().labels("suite=standby"));
    Arc::new(SharedIndexInformer::new(api.clone(), config))
}

async fn create_objects(api: &Api<ConfigMap>) -> Result<()> {
    let results: Vec<_> = stream::iter(0..OBJECTS)
        .map(|i| async move {
            let cm: ConfigMap = serde_json::from_value(json!({
                "metadata": { "name": format!("cm-{i:04}"), "labels": { "suite": "standby" } },
                "data": { "i": i.to_string() }
            }))?;
            api.create(&PostParams::default(), &cm).await?;
            anyhow::Ok(())
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Starts a holder, then the candidate (`spawn_candidate`), stops the holder
/// gracefully and waits until the candidate reconciled every object.
async fn hand_over(
    env: &TestEnv,
    candidate: impl FnOnce(SharedTimeline, oneshot::Receiver<()>) -> Result<JoinHandle<()>>,
) -> Result<(Duration, Duration)> {
    let holder = Replica::spawn(env.control_plane().client().await?, env.namespace(), "holder", &Ledger::default())?;
    eventually_within(WAIT, "the holder to lead", || async { Ok(holder.gate.is_leader().then_some(())) }).await?;
    let timeline = SharedTimeline::default();
    let (stop, stopped) = oneshot::channel();
    let task = candidate(timeline.clone(), stopped)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    holder.stop().await?;
    let (first, all) = eventually_within(Duration::from_secs(120), "every object reconciled", || {
        let timeline = timeline.clone();
        async move {
            let t = timeline.lock().unwrap();
            Ok(t.all.map(|all| (t.first.unwrap() - t.acquired.unwrap(), all - t.acquired.unwrap())))
        }
    })
    .await?;
    let _ = stop.send(());
    tokio::time::timeout(WAIT, task).await??;
    Ok((first, all))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_standby_reconciles_sooner_than_a_cold_start() -> Result<()> {
    let env = TestEnv::start().await?;
    create_log(&env).await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    create_objects(&api).await?;

    // Warm: the follower's informer syncs while waiting; its queue exists only once it leads.
    let informer = standby_informer(&api);
    let queue = LeaderQueue::<ObjectKey>::new();
    informer.add_event_handler(queue.object_key_handler());
    informer.run();
    anyhow::ensure!(tokio::time::timeout(WAIT, informer.wait_for_sync()).await?, "warm informer synced");
    let client = env.control_plane().client().await?;
    let (store, warm_queue) = (informer.store(), queue.clone());
    let warm = hand_over(&env, |timeline, stopped| {
        let started = timeline.clone();
        let elector = LeaderElector::new(client, config(env.namespace(), "warm"))?
            .on_started_leading(move || started.lock().unwrap().acquired = Some(Instant::now()));
        anyhow::ensure!(warm_queue.current().is_none(), "a follower holds no queue");
        Ok(tokio::spawn(elector.run_controller(
            async move {
                let _ = stopped.await;
            },
            warm_queue,
            move || store.keys(),
            move |q| Controller::new("warm", q, reconciler(timeline.clone())).workers(4),
        )))
    })
    .await?;
    assert!(queue.current().is_none(), "the queue is gone with the term");
    informer.shutdown().await;

    // Cold: the informer starts only once the lease is acquired.
    let client = env.control_plane().client().await?;
    let cold = hand_over(&env, |timeline, stopped| {
        let started = timeline.clone();
        let elector = LeaderElector::new(client, config(env.namespace(), "cold"))?
            .on_started_leading(move || started.lock().unwrap().acquired = Some(Instant::now()));
        let api = api.clone();
        Ok(tokio::spawn(elector.run(
            async move {
                let _ = stopped.await;
            },
            move |leadership| {
                let (api, timeline) = (api.clone(), timeline.clone());
                async move {
                    let informer = standby_informer(&api);
                    let queue = LeaderQueue::<ObjectKey>::new();
                    informer.add_event_handler(queue.object_key_handler());
                    informer.run();
                    informer.wait_for_sync().await;
                    let store = informer.store();
                    queue
                        .run_controller(
                            &leadership,
                            move || store.keys(),
                            |q| Controller::new("cold", q, reconciler(timeline)).workers(4),
                        )
                        .await;
                    informer.shutdown().await;
                }
            },
        )))
    })
    .await?;
    eprintln!(
        "{OBJECTS} ConfigMaps, lease acquired -> first reconcile / all reconciled: warm {} / {}, cold {} / {}",
        secs(warm.0),
        secs(warm.1),
        secs(cold.0),
        secs(cold.1)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// A TCP proxy that can black-hole its traffic: a partition between one
// replica and the apiserver (TLS passes through untouched).

struct Proxy {
    addr: std::net::SocketAddr,
    broken: Arc<watch::Sender<bool>>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let broken = Arc::new(watch::Sender::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let (broken, conns) = (broken.clone(), conns.clone());
            async move {
                while let Ok((down, _)) = listener.accept().await {
                    let (upstream, broken) = (upstream.clone(), broken.subscribe());
                    let conn = tokio::spawn(async move {
                        let Ok(up) = TcpStream::connect(&upstream).await else { return };
                        let ((dr, dw), (ur, uw)) = (down.into_split(), up.into_split());
                        tokio::join!(pump(dr, uw, broken.clone()), pump(ur, dw, broken));
                    });
                    conns.lock().unwrap().push(conn.abort_handle());
                }
            }
        });
        Ok(Self { addr, broken, conns, accept })
    }

    /// From now on, bytes are swallowed: requests hang, nothing is answered.
    fn cut(&self) {
        self.broken.send_replace(true);
    }

    /// Drops the stalled connections and forwards again.
    fn heal(&self) {
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
        self.broken.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, broken: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *broken.borrow() {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
