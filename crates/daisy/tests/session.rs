//! Session-level behaviour of a running `daisy server`, as clients see it:
//! transactions, WATCH, pub/sub, blocking commands, authentication, client
//! management and the server's limits.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::{spawn_daisy, Resp, RespConn};

fn bulk(text: &str) -> Resp {
    Resp::Bulk(text.as_bytes().to_vec())
}

fn simple(text: &str) -> Resp {
    Resp::Simple(text.as_bytes().to_vec())
}

fn error_text(reply: &Resp) -> String {
    reply
        .error_text()
        .unwrap_or_else(|| panic!("expected an error, got {reply:?}"))
}

fn call(conn: &mut RespConn, argv: &[&str]) -> Resp {
    conn.call(argv)
        .unwrap_or_else(|e| panic!("{argv:?} failed: {e}"))
}

#[test]
fn multi_exec_runs_queued_commands_atomically() {
    let server = spawn_daisy(&[]);
    let mut conn = server.connect();
    assert_eq!(call(&mut conn, &["MULTI"]), simple("OK"));
    assert_eq!(call(&mut conn, &["SET", "a", "1"]), simple("QUEUED"));
    assert_eq!(call(&mut conn, &["INCR", "a"]), simple("QUEUED"));
    assert_eq!(call(&mut conn, &["GET", "a"]), simple("QUEUED"));
    assert_eq!(
        call(&mut conn, &["EXEC"]),
        Resp::Array(vec![simple("OK"), Resp::Int(2), bulk("2")])
    );

    // An error while queueing discards the whole transaction.
    call(&mut conn, &["MULTI"]);
    call(&mut conn, &["SET", "a", "100"]);
    assert!(call(&mut conn, &["NOSUCHCOMMAND"]).is_error());
    assert_eq!(
        error_text(&call(&mut conn, &["EXEC"])),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(call(&mut conn, &["GET", "a"]), bulk("2"));

    // A runtime error inside EXEC fails only that command.
    call(&mut conn, &["MULTI"]);
    call(&mut conn, &["LPUSH", "a", "x"]);
    call(&mut conn, &["INCR", "a"]);
    match call(&mut conn, &["EXEC"]) {
        Resp::Array(replies) => {
            assert!(replies[0].is_error());
            assert_eq!(replies[1], Resp::Int(3));
        }
        other => panic!("unexpected EXEC reply {other:?}"),
    }
    assert_eq!(
        error_text(&call(&mut conn, &["EXEC"])),
        "ERR EXEC without MULTI"
    );
    call(&mut conn, &["MULTI"]);
    assert_eq!(
        error_text(&call(&mut conn, &["MULTI"])),
        "ERR MULTI calls can not be nested"
    );
    assert_eq!(call(&mut conn, &["DISCARD"]), simple("OK"));
}

#[test]
fn watch_aborts_exec_when_another_client_writes() {
    let server = spawn_daisy(&[]);
    let mut watcher = server.connect();
    let mut writer = server.connect();
    call(&mut watcher, &["SET", "balance", "10"]);

    // Phase 1: an untouched watched key lets EXEC run.
    call(&mut watcher, &["WATCH", "balance"]);
    call(&mut watcher, &["MULTI"]);
    call(&mut watcher, &["INCRBY", "balance", "5"]);
    assert_eq!(
        call(&mut watcher, &["EXEC"]),
        Resp::Array(vec![Resp::Int(15)])
    );

    // Phase 2: a write by another client makes EXEC return a null array.
    call(&mut watcher, &["WATCH", "balance"]);
    call(&mut writer, &["SET", "balance", "0"]);
    call(&mut watcher, &["MULTI"]);
    call(&mut watcher, &["INCRBY", "balance", "5"]);
    assert_eq!(call(&mut watcher, &["EXEC"]), Resp::NullArray);
    assert_eq!(call(&mut watcher, &["GET", "balance"]), bulk("0"));

    // Phase 3: a watched key that expires before EXEC counts as changed.
    call(&mut watcher, &["SET", "lease", "x", "PX", "50"]);
    call(&mut watcher, &["WATCH", "lease"]);
    thread::sleep(Duration::from_millis(120));
    call(&mut watcher, &["MULTI"]);
    call(&mut watcher, &["SET", "lease", "y"]);
    assert_eq!(call(&mut watcher, &["EXEC"]), Resp::NullArray);

    // Phase 4: UNWATCH forgets the keys.
    call(&mut watcher, &["WATCH", "balance"]);
    call(&mut writer, &["SET", "balance", "1"]);
    call(&mut watcher, &["UNWATCH"]);
    call(&mut watcher, &["MULTI"]);
    call(&mut watcher, &["GET", "balance"]);
    assert_eq!(call(&mut watcher, &["EXEC"]), Resp::Array(vec![bulk("1")]));
}

#[test]
fn pubsub_delivers_to_channels_and_patterns() {
    let server = spawn_daisy(&[]);
    let mut subscriber = server.connect();
    let mut publisher = server.connect();
    assert_eq!(
        call(&mut subscriber, &["SUBSCRIBE", "news"]),
        Resp::Array(vec![bulk("subscribe"), bulk("news"), Resp::Int(1)])
    );
    assert_eq!(
        call(&mut subscriber, &["PSUBSCRIBE", "n*"]),
        Resp::Array(vec![bulk("psubscribe"), bulk("n*"), Resp::Int(2)])
    );
    // RESP2 subscribers may only run subscription commands.
    assert!(
        error_text(&call(&mut subscriber, &["GET", "x"])).starts_with("ERR Can't execute 'get'")
    );
    assert_eq!(
        call(&mut subscriber, &["PING"]),
        Resp::Array(vec![bulk("pong"), bulk("")])
    );

    assert_eq!(
        call(&mut publisher, &["PUBLISH", "news", "hello"]),
        Resp::Int(2)
    );
    assert_eq!(
        subscriber.read_reply().unwrap(),
        Resp::Array(vec![bulk("message"), bulk("news"), bulk("hello")])
    );
    assert_eq!(
        subscriber.read_reply().unwrap(),
        Resp::Array(vec![
            bulk("pmessage"),
            bulk("n*"),
            bulk("news"),
            bulk("hello")
        ])
    );
    assert_eq!(
        call(&mut publisher, &["PUBSUB", "NUMSUB", "news", "other"]),
        Resp::Array(vec![
            bulk("news"),
            Resp::Int(1),
            bulk("other"),
            Resp::Int(0)
        ])
    );
    assert_eq!(call(&mut publisher, &["PUBSUB", "NUMPAT"]), Resp::Int(1));
    assert_eq!(
        call(&mut publisher, &["PUBSUB", "CHANNELS"]),
        Resp::Array(vec![bulk("news")])
    );

    // After unsubscribing everything the connection is normal again.
    call(&mut subscriber, &["UNSUBSCRIBE"]);
    call(&mut subscriber, &["PUNSUBSCRIBE"]);
    assert_eq!(call(&mut subscriber, &["GET", "x"]), Resp::NullBulk);
    assert_eq!(
        call(&mut publisher, &["PUBLISH", "news", "again"]),
        Resp::Int(0)
    );
}

#[test]
fn resp3_subscriber_gets_push_frames_and_can_run_commands() {
    let server = spawn_daisy(&[]);
    let mut conn = server.connect();
    assert!(matches!(call(&mut conn, &["HELLO", "3"]), Resp::Map(_)));
    assert!(matches!(
        call(&mut conn, &["SUBSCRIBE", "c"]),
        Resp::Push(_)
    ));
    assert_eq!(call(&mut conn, &["SET", "k", "v"]), simple("OK"));
    // Its own PUBLISH: the message comes before the reply, as in Redis.
    conn.send(&["PUBLISH", "c", "m"]).unwrap();
    assert_eq!(
        conn.read_reply().unwrap(),
        Resp::Push(vec![bulk("message"), bulk("c"), bulk("m")])
    );
    assert_eq!(conn.read_reply().unwrap(), Resp::Int(1));
}

#[test]
fn blocked_pop_is_served_by_a_later_push_in_fifo_order() {
    let server = spawn_daisy(&[]);
    let mut first = server.connect();
    let mut second = server.connect();
    let mut pusher = server.connect();
    first.send(&["BLPOP", "queue", "5"]).unwrap();
    thread::sleep(Duration::from_millis(100));
    second.send(&["BLPOP", "queue", "5"]).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        call(&mut pusher, &["RPUSH", "queue", "a", "b", "c"]),
        Resp::Int(3)
    );
    assert_eq!(
        first.read_reply().unwrap(),
        Resp::Array(vec![bulk("queue"), bulk("a")])
    );
    assert_eq!(
        second.read_reply().unwrap(),
        Resp::Array(vec![bulk("queue"), bulk("b")])
    );
    assert_eq!(
        call(&mut pusher, &["LRANGE", "queue", "0", "-1"]),
        Resp::Array(vec![bulk("c")])
    );
    // A served client goes on with its pipelined commands.
    first.send(&["BLPOP", "empty", "5"]).unwrap();
    first.send(&["PING"]).unwrap();
    thread::sleep(Duration::from_millis(50));
    call(&mut pusher, &["LPUSH", "empty", "x"]);
    assert_eq!(
        first.read_reply().unwrap(),
        Resp::Array(vec![bulk("empty"), bulk("x")])
    );
    assert_eq!(first.read_reply().unwrap(), simple("PONG"));
}

#[test]
fn blocked_pop_times_out_and_chains_through_blmove() {
    let server = spawn_daisy(&[]);
    let mut waiter = server.connect();
    let started = Instant::now();
    assert_eq!(
        call(&mut waiter, &["BLPOP", "nothing", "0.2"]),
        Resp::NullArray
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190),
        "returned after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "returned after {waited:?}");

    // A BLMOVE that is served pushes into a list another client waits on.
    let mut mover = server.connect();
    let mut end = server.connect();
    let mut pusher = server.connect();
    mover
        .send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"])
        .unwrap();
    end.send(&["BLPOP", "dst", "5"]).unwrap();
    thread::sleep(Duration::from_millis(100));
    call(&mut pusher, &["RPUSH", "src", "item"]);
    assert_eq!(mover.read_reply().unwrap(), bulk("item"));
    assert_eq!(
        end.read_reply().unwrap(),
        Resp::Array(vec![bulk("dst"), bulk("item")])
    );

    // CLIENT UNBLOCK ends a wait early.
    let mut stuck = server.connect();
    let id = match call(&mut stuck, &["CLIENT", "ID"]) {
        Resp::Int(id) => id.to_string(),
        other => panic!("CLIENT ID gave {other:?}"),
    };
    stuck.send(&["BLPOP", "never", "0"]).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        call(&mut pusher, &["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Resp::Int(1)
    );
    assert!(error_text(&stuck.read_reply().unwrap()).starts_with("UNBLOCKED"));
}

#[test]
fn requirepass_guards_every_command_but_auth() {
    let server = spawn_daisy(&["--requirepass", "s3cret"]);
    let mut conn = server.connect();
    assert_eq!(
        error_text(&call(&mut conn, &["GET", "k"])),
        "NOAUTH Authentication required."
    );
    assert_eq!(
        error_text(&call(&mut conn, &["AUTH", "wrong"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(call(&mut conn, &["AUTH", "s3cret"]), simple("OK"));
    assert_eq!(call(&mut conn, &["GET", "k"]), Resp::NullBulk);

    let mut other = server.connect();
    match call(
        &mut other,
        &["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app"],
    ) {
        Resp::Map(fields) => assert!(fields.contains(&(bulk("proto"), Resp::Int(3)))),
        reply => panic!("HELLO gave {reply:?}"),
    }
    assert_eq!(call(&mut other, &["CLIENT", "GETNAME"]), bulk("app"));
    assert_eq!(call(&mut other, &["RESET"]), simple("RESET"));
    assert!(call(&mut other, &["GET", "k"]).is_error());
}

#[test]
fn client_list_and_kill() {
    let server = spawn_daisy(&[]);
    let mut admin = server.connect();
    let mut victim = server.connect();
    call(&mut victim, &["CLIENT", "SETNAME", "victim"]);
    let victim_id = match call(&mut victim, &["CLIENT", "ID"]) {
        Resp::Int(id) => id,
        other => panic!("CLIENT ID gave {other:?}"),
    };
    let list = match call(&mut admin, &["CLIENT", "LIST"]) {
        Resp::Bulk(text) => String::from_utf8(text).unwrap(),
        other => panic!("CLIENT LIST gave {other:?}"),
    };
    assert!(list.contains(&format!("id={victim_id} ")), "{list}");
    assert!(list.contains("name=victim "), "{list}");
    assert_eq!(
        error_text(&call(&mut admin, &["CLIENT", "SETNAME", "has space"])),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        call(
            &mut admin,
            &["CLIENT", "KILL", "ID", &victim_id.to_string()]
        ),
        Resp::Int(1)
    );
    let (_, closed) = victim.read_until_close(Duration::from_secs(5));
    assert!(closed, "the killed client's connection must close");
    assert_eq!(call(&mut admin, &["PING"]), simple("PONG"));
}

#[test]
fn maxclients_rejects_extra_connections_with_an_error() {
    let server = spawn_daisy(&["--maxclients", "2"]);
    let mut first = server.connect();
    let mut second = server.connect();
    call(&mut first, &["PING"]);
    call(&mut second, &["PING"]);
    let mut third = server.connect();
    let (bytes, closed) = third.read_until_close(Duration::from_secs(5));
    assert_eq!(bytes, b"-ERR max number of clients reached\r\n");
    assert!(closed);
    drop(second);
    // The slot frees once the server notices the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = server.connect();
        if again.call(&["PING"]).ok() == Some(simple("PONG")) {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was never reused");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = spawn_daisy(&["--timeout", "1", "--hz", "50"]);
    let mut idle = server.connect();
    call(&mut idle, &["PING"]);
    let (_, closed) = idle.read_until_close(Duration::from_secs(5));
    assert!(closed, "an idle client must be closed after the timeout");
}

#[test]
fn maxmemory_refuses_growing_writes_but_serves_reads_and_deletes() {
    let server = spawn_daisy(&[]);
    let mut conn = server.connect();
    call(&mut conn, &["SET", "keep", "v"]);
    // A limit below what the process already uses: every denyoom command fails.
    assert_eq!(
        call(&mut conn, &["CONFIG", "SET", "maxmemory", "1000"]),
        simple("OK")
    );
    assert_eq!(
        error_text(&call(&mut conn, &["SET", "new", "v"])),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert_eq!(call(&mut conn, &["GET", "keep"]), bulk("v"));
    assert_eq!(call(&mut conn, &["DEL", "keep"]), Resp::Int(1));
    assert_eq!(
        call(&mut conn, &["CONFIG", "SET", "maxmemory", "0"]),
        simple("OK")
    );
    assert_eq!(call(&mut conn, &["SET", "new", "v"]), simple("OK"));
}

#[test]
fn config_get_set_and_info() {
    let server = spawn_daisy(&[]);
    let mut conn = server.connect();
    assert_eq!(
        call(&mut conn, &["CONFIG", "GET", "maxmemory"]),
        Resp::Array(vec![bulk("maxmemory"), bulk("0")])
    );
    assert_eq!(
        call(&mut conn, &["CONFIG", "SET", "timeout", "30"]),
        simple("OK")
    );
    assert_eq!(
        call(&mut conn, &["CONFIG", "GET", "timeout"]),
        Resp::Array(vec![bulk("timeout"), bulk("30")])
    );
    assert!(call(&mut conn, &["CONFIG", "SET", "nonexistent", "1"]).is_error());
    call(&mut conn, &["SET", "a", "1"]);
    let info = match call(&mut conn, &["INFO"]) {
        Resp::Bulk(text) => String::from_utf8(text).unwrap(),
        other => panic!("INFO gave {other:?}"),
    };
    for field in [
        "redis_version:",
        "connected_clients:",
        "used_memory:",
        "db0:keys=1",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
}

#[test]
fn shutdown_stops_the_server() {
    let mut server = spawn_daisy(&[]);
    let mut conn = server.connect();
    conn.send(&["SHUTDOWN"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.is_running() {
        assert!(
            Instant::now() < deadline,
            "server still running after SHUTDOWN"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_real_client_library_works_in_resp2_and_resp3() {
    let server = spawn_daisy(&[]);
    for url in [
        format!("redis://{}/", server.addr()),
        format!("redis://{}/?protocol=resp3", server.addr()),
    ] {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_connection().unwrap();
        let _: () = redis::cmd("DEL").arg("h").query(&mut con).unwrap();
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg("f1")
            .arg("v1")
            .arg("f2")
            .arg("v2")
            .query(&mut con)
            .unwrap();
        let all: std::collections::HashMap<String, String> =
            redis::cmd("HGETALL").arg("h").query(&mut con).unwrap();
        assert_eq!(all.len(), 2, "{url}");
        assert_eq!(all["f1"], "v1");
        let (count, values): (i64, Vec<String>) = redis::pipe()
            .cmd("RPUSH")
            .arg("l")
            .arg("x")
            .cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        assert!(count >= 1);
        assert_eq!(values.last().map(String::as_str), Some("x"));
    }
}

/// The keys `debug_digest_is_equal_on_nodes_with_equal_data` writes, one
/// complete command each, so the two nodes can run them in different orders.
fn digest_test_writes(expire_at_ms: u64) -> Vec<Vec<String>> {
    let at = expire_at_ms.to_string();
    let script: &[&[&str]] = &[
        &["SET", "greeting", "hello"],
        &[
            "SET",
            "long",
            "a string long enough to live on the heap, not inline",
        ],
        &["RPUSH", "queue", "first", "second", "third"],
        &["HSET", "user", "name", "ada", "lang", "en", "visits", "3"],
        &["SADD", "tags", "red", "green", "blue", "7"],
        &["SADD", "numbers", "1", "2", "3"],
        &[
            "ZADD", "board", "10", "alice", "20", "bob", "20", "carol", "-0.5", "dan",
        ],
        &["SET", "session", "token", "PXAT", &at],
        &["HSET", "cache", "k", "v"],
        &["PEXPIREAT", "cache", &at],
    ];
    script
        .iter()
        .map(|argv| argv.iter().map(|arg| arg.to_string()).collect())
        .collect()
}

fn digest_of(conn: &mut RespConn) -> String {
    match call(conn, &["DEBUG", "DIGEST"]) {
        Resp::Simple(text) => String::from_utf8(text).expect("hex digest"),
        other => panic!("DEBUG DIGEST gave {other:?}"),
    }
}

fn value_digests(conn: &mut RespConn, keys: &[&str]) -> Vec<Resp> {
    let mut argv = vec!["DEBUG", "DIGEST-VALUE"];
    argv.extend_from_slice(keys);
    match call(conn, &argv) {
        Resp::Array(digests) => digests,
        other => panic!("DEBUG DIGEST-VALUE gave {other:?}"),
    }
}

#[test]
fn debug_digest_is_equal_on_nodes_with_equal_data() {
    // Two nodes with different hash seeds, so their tables differ in layout.
    let first = spawn_daisy(&["--seed", "1"]);
    let second = spawn_daisy(&["--seed", "987654321"]);
    let mut a = first.connect();
    let mut b = second.connect();
    let zeros = "0".repeat(40);

    // Phase 1: empty keyspaces digest to zeros, like Redis.
    assert_eq!(digest_of(&mut a), zeros);
    assert_eq!(digest_of(&mut b), zeros);

    // Phase 2: the same data, written in opposite orders; the second node
    // also lists set members and hash fields in another order, and takes a
    // detour through a large set and a string built by APPEND, so its
    // tables and encodings differ while the data does not.
    let expire_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
        + 3_600_000;
    let writes = digest_test_writes(expire_at_ms);
    for argv in &writes {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        assert!(!call(&mut a, &argv).is_error(), "{argv:?}");
    }
    for argv in writes.iter().rev() {
        let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        if argv[0] == "SADD" {
            argv[2..].reverse();
        }
        if argv[0] == "PEXPIREAT" {
            continue;
        }
        assert!(!call(&mut b, &argv).is_error(), "{argv:?}");
    }
    call(&mut b, &["PEXPIREAT", "cache", &expire_at_ms.to_string()]);
    call(&mut b, &["HSET", "user", "visits", "3", "name", "ada"]);
    let filler: Vec<String> = (0..600).map(|i| format!("filler{i}")).collect();
    let mut sadd = vec!["SADD", "numbers"];
    sadd.extend(filler.iter().map(String::as_str));
    call(&mut b, &sadd);
    let mut srem = vec!["SREM", "numbers"];
    srem.extend(filler.iter().map(String::as_str));
    call(&mut b, &srem);
    call(&mut b, &["DEL", "greeting"]);
    call(&mut b, &["APPEND", "greeting", "hel"]);
    call(&mut b, &["APPEND", "greeting", "lo"]);

    let digest = digest_of(&mut a);
    assert_ne!(digest, zeros);
    assert_eq!(digest.len(), 40);
    assert_eq!(digest_of(&mut b), digest, "equal data, different digests");
    let keys = [
        "greeting", "queue", "user", "tags", "board", "cache", "nokey",
    ];
    let per_key = value_digests(&mut a, &keys);
    assert_eq!(value_digests(&mut b, &keys), per_key);
    assert_eq!(per_key.last(), Some(&simple(&zeros)), "a missing key");

    // Phase 3: a key that has expired on one node only is left out, deleted
    // or not.
    call(&mut a, &["SET", "lease", "x", "PX", "30"]);
    thread::sleep(Duration::from_millis(60));
    assert_eq!(digest_of(&mut a), digest);

    // Phase 4: one changed field changes the digest and that key's value
    // digest, and no other key's.
    call(&mut b, &["HSET", "user", "lang", "fr"]);
    assert_ne!(digest_of(&mut b), digest);
    let changed = value_digests(&mut b, &keys);
    for ((key, before), after) in keys.iter().zip(&per_key).zip(&changed) {
        if *key == "user" {
            assert_ne!(before, after, "the changed key's digest");
        } else {
            assert_eq!(before, after, "{key} did not change");
        }
    }

    // Phase 5: DEBUG serves only these subcommands, with Redis's errors.
    let error = error_text(&call(&mut a, &["DEBUG", "SLEEP", "0"]));
    assert_eq!(
        error,
        "ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP."
    );
    assert!(call(&mut a, &["DEBUG", "DIGEST", "extra"]).is_error());
    match call(&mut a, &["DEBUG", "HELP"]) {
        Resp::Array(lines) => {
            assert!(lines.contains(&simple("DIGEST")), "{lines:?}");
            assert!(lines.contains(&simple("DIGEST-VALUE <key> [<key> ...]")));
        }
        other => panic!("DEBUG HELP gave {other:?}"),
    }
}
