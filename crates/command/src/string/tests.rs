use bytes::Bytes;

use crate::testing::Harness;

/// Replays `DAISY_REPLAY_IN` (one command a line, shell-quoted with
/// single quotes only) and writes each raw reply to `DAISY_REPLAY_OUT`.
#[test]
#[ignore]
fn replay_script() {
    let (Ok(input), Ok(output)) = (
        std::env::var("DAISY_REPLAY_IN"),
        std::env::var("DAISY_REPLAY_OUT"),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(input).unwrap();
    let mut h = Harness::new();
    let mut out = String::new();
    for line in text.lines() {
        let argv: Vec<Bytes> = split(line).into_iter().map(Bytes::from).collect();
        if argv.is_empty() {
            continue;
        }
        let reply = h.run_bytes(&argv);
        out.push_str(
            &reply
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        );
        out.push('\n');
    }
    std::fs::write(output, out).unwrap();
}

fn split(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut current = Vec::new();
    let mut in_quote = false;
    let mut has = false;
    for c in line.bytes() {
        if in_quote {
            if c == b'\'' {
                in_quote = false;
            } else {
                current.push(c);
            }
        } else if c == b'\'' {
            in_quote = true;
            has = true;
        } else if c == b' ' {
            if has || !current.is_empty() {
                args.push(std::mem::take(&mut current));
                has = false;
            }
        } else {
            current.push(c);
        }
    }
    if has || !current.is_empty() {
        args.push(current);
    }
    args
}
