//! Replays every seed and every saved crash through its target, so a fixed
//! crash stays fixed without a fuzzer: `cargo test` in fuzz/ (stable).

#[test]
fn seeds_and_saved_crashes_replay_cleanly() {
    let mut replayed = 0;
    for (name, target) in litmus_fuzz::TARGETS {
        for dir in ["corpus", "regressions"] {
            for input in litmus_fuzz::saved_inputs(dir, name) {
                let data = std::fs::read(&input).unwrap();
                eprintln!("replaying {}", input.display());
                target(&data);
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0, "no seeds found under fuzz/corpus");
}
