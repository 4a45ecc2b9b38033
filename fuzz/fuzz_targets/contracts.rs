//! Response contracts: never panic, whatever the gateway sends.
#![no_main]

use aipermission_core::contracts::{Contract, check};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let contract = match selector % 9 {
        0 => Contract::Targets,
        1 => Contract::Help,
        2 => Contract::Actions,
        3 => Contract::ActionCall {
            target_ref: "ssh:4:2".into(),
            action_name: "exec".into(),
        },
        4 => Contract::ActionRead { request_id: 7 },
        5 => Contract::VaultItems,
        6 => Contract::VaultCall {
            action_name: "generate_item".into(),
        },
        7 => Contract::VaultRead { request_id: 7 },
        _ => Contract::VaultCancel { request_id: 7 },
    };
    let _ = check(&contract, &value);
});
