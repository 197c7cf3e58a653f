#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| litmus_fuzz::runtime_output(data));
