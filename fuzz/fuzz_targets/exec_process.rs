#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| litmus_fuzz::exec_process(data));
