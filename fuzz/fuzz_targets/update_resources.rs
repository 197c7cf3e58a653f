#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| litmus_fuzz::update_resources(data));
