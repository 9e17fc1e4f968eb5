//! The two binaries as `make demo` runs them: `platform-standin serve` recording to a file, `bot-engine`
//! configured only by the environment the operator sets, `platform-standin send line` posting a signed
//! webhook; then SIGTERM stops both cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENGINE: &str = env!("CARGO_BIN_EXE_bot-engine");
const STANDIN: &str = env!("CARGO_BIN_EXE_platform-standin");
const SECRET: &str = "cli-channel-secret";

const RULES: &str = r#"{"version":1,"rules":[{"event":"greeting","bindings":["b"],
    "trigger":{"type":"message","keywords":["hello"]},"actions":[{"reply":"Hello from bot-engine!"}]}]}"#;

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn records(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn demo_flow_engine_and_standin_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, RULES).unwrap();
    let record = dir.path().join("requests.jsonl");

    let mut standin = Command::new(STANDIN)
        .args(["serve", "--port", "0", "--record"])
        .arg(&record)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(standin.stderr.take().unwrap()).read_line(&mut first_line).unwrap();
    let standin_url = first_line.trim().strip_prefix("platform-standin listening on ").expect(&first_line).to_owned();

    let port = free_port();
    let mut engine = Command::new(ENGINE)
        .env_clear()
        .env("BOT_NAME", "greeter")
        .env("BOT_PLATFORM", "line")
        .env("BOT_LOG_LEVEL", "info")
        .env("BOT_BIND_ADDRESS", "127.0.0.1")
        .env("BOT_PORT", port.to_string())
        .env("BOT_RULES", &rules)
        .env("BOT_API_BASE_URL", &standin_url)
        .env("channelSecret", SECRET)
        .env("channelToken", "cli-channel-token")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the engine to be ready", || ready(port));

    let sent = Command::new(STANDIN)
        .args(["send", "line", "--url", &format!("http://127.0.0.1:{port}/webhook/line")])
        .args(["--secret", SECRET, "--text", "well, hello!", "--reply-token", "rt-cli"])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}");
    assert!(String::from_utf8_lossy(&sent.stdout).starts_with("200"), "{sent:?}");

    wait_until("the reply to be recorded", || !records(&record).is_empty());
    let recorded = records(&record);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["path"], "/v2/bot/message/reply");
    assert_eq!(recorded[0]["authorization"], true);
    assert_eq!(recorded[0]["status"], 200);
    assert_eq!(recorded[0]["body"]["replyToken"], "rt-cli");
    assert_eq!(recorded[0]["body"]["messages"][0]["text"], "Hello from bot-engine!");

    let bad = Command::new(STANDIN)
        .args(["send", "line", "--url", &format!("http://127.0.0.1:{port}/webhook/line")])
        .args(["--secret", "wrong-secret", "--text", "hello"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).starts_with("401"), "{bad:?}");

    sigterm(&engine);
    assert!(wait_exit(&mut engine, "bot-engine").success());
    sigterm(&standin);
    assert!(wait_exit(&mut standin, "platform-standin").success());
    assert_eq!(records(&record).len(), 1, "the refused webhook caused no reply");
}

#[test]
fn help_check_rules_and_configuration_errors() {
    let help = Command::new(ENGINE).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for expected in ["BOT_PLATFORM", "BOT_API_BASE_URL", "channelSecret", "/webhook/"] {
        assert!(text.contains(expected), "{expected} not in help:\n{text}");
    }
    assert!(Command::new(STANDIN).arg("--help").output().unwrap().status.success());

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, RULES).unwrap();
    let checked = Command::new(ENGINE).arg("check-rules").arg(&good).output().unwrap();
    assert!(checked.status.success(), "{checked:?}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, RULES.replace(r#""keywords":["hello"]"#, r#""pattern":"(hello""#)).unwrap();
    let checked = Command::new(ENGINE).arg("check-rules").arg(&bad).output().unwrap();
    assert!(!checked.status.success());
    assert!(String::from_utf8_lossy(&checked.stderr).contains("invalid pattern"), "{checked:?}");

    let unconfigured = Command::new(ENGINE).env_clear().output().unwrap();
    assert_eq!(unconfigured.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unconfigured.stderr).contains("BOT_PLATFORM is not set"), "{unconfigured:?}");
    let missing =
        Command::new(ENGINE).env_clear().env("BOT_PLATFORM", "line").env("channelSecret", "s").output().unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("channelToken is not set"), "{missing:?}");
}
