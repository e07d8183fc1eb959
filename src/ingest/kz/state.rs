//! Per-register KZ state as stored in `kz_state`, and the REQNUM/token gate (spec §5).
//!
//! The gate is pure: given the stored state, the register's current token and the request's
//! (REQNUM, token, command), it says whether to replay a cached response, refuse, or process.
//! Order matters: the token first, then the retry checks of spec §8 item 5. A token that is
//! neither the current one nor one of a cached exchange (a retry carries the token it was sent
//! with) is INVALID_TOKEN whatever the REQNUM, so no answer to a wrong token says anything
//! about the register's request numbers, and every wrong token reaches the token guard.

use ofd_protocol::kz::ResultTypeEnum;
use subtle::ConstantTimeEq as _;

use super::ledger::Ledger;

/// One answered request: what identifies a retry of it, and the exact bytes it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// REQNUM of the request.
    pub reqnum: u16,
    /// Token the request carried.
    pub token: u32,
    /// Command of the request (raw value).
    pub command: i32,
    /// The whole response frame that was sent.
    pub response: Vec<u8>,
}

/// Everything the server keeps about one KZ register besides the `registers` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KzState {
    /// Optimistic-concurrency version; 0 when no row exists yet.
    pub version: i64,
    /// The last request that passed the token check.
    pub last: Option<Exchange>,
    /// The last successful token-rotating exchange.
    pub last_ok: Option<Exchange>,
    /// Shift, counters, lifetime sums, drawer.
    pub ledger: Ledger,
    /// `service.offline_period` of the last offline replay, as JSON.
    pub last_offline_period: Option<String>,
}

/// What to do with a request before looking at its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// An exact retry: send these bytes again, change nothing.
    Replay(Vec<u8>),
    /// Refuse with this code; the token is echoed, nothing is stored.
    Refuse(ResultTypeEnum),
    /// A new request with the right token.
    Process,
}

/// Applies the REQNUM/token rules to a request carrying (`reqnum`, `token`, `command`).
pub fn gate(state: &KzState, current_token: u32, reqnum: u16, token: u32, command: i32) -> Gate {
    let matches = |known: u32| bool::from(token.ct_eq(&known));
    let known = matches(current_token)
        | state.last.as_ref().is_some_and(|e| matches(e.token))
        | state.last_ok.as_ref().is_some_and(|e| matches(e.token));
    if !known {
        return Gate::Refuse(ResultTypeEnum::InvalidToken);
    }
    let same = |e: &Exchange| e.reqnum == reqnum && e.token == token && e.command == command;
    if let Some(ok) = state.last_ok.as_ref().filter(|e| same(e)) {
        return Gate::Replay(ok.response.clone());
    }
    if let Some(last) = state.last.as_ref().filter(|e| e.reqnum == reqnum) {
        if last.token != token {
            return Gate::Refuse(ResultTypeEnum::InvalidRequestNumber);
        }
        if last.command != command {
            return Gate::Refuse(ResultTypeEnum::InvalidRetryRequest);
        }
        return Gate::Replay(last.response.clone());
    }
    if !bool::from(token.ct_eq(&current_token)) {
        return Gate::Refuse(ResultTypeEnum::InvalidToken);
    }
    Gate::Process
}

/// A fresh token for the next request: random, never 0, never the previous one.
pub fn next_token(previous: u32) -> u32 {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    loop {
        let token: u32 = rng.gen();
        if token != 0 && token != previous {
            return token;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(reqnum: u16, token: u32, command: i32, response: &[u8]) -> Exchange {
        Exchange {
            reqnum,
            token,
            command,
            response: response.to_vec(),
        }
    }

    #[test]
    fn follows_the_spec_table() {
        let state = KzState {
            last: Some(exchange(7, 100, 1, b"last")),
            last_ok: Some(exchange(5, 90, 1, b"ok")),
            ..KzState::default()
        };
        let current = 200;
        // Same REQNUM, token and command: replay.
        assert_eq!(
            gate(&state, current, 7, 100, 1),
            Gate::Replay(b"last".to_vec())
        );
        // Same REQNUM and token, other command.
        assert_eq!(
            gate(&state, current, 7, 100, 2),
            Gate::Refuse(ResultTypeEnum::InvalidRetryRequest)
        );
        // Same REQNUM, other token.
        assert_eq!(
            gate(&state, current, 7, 200, 1),
            Gate::Refuse(ResultTypeEnum::InvalidRequestNumber)
        );
        // New REQNUM, wrong token.
        assert_eq!(
            gate(&state, current, 8, 100, 1),
            Gate::Refuse(ResultTypeEnum::InvalidToken)
        );
        // New REQNUM, right token.
        assert_eq!(gate(&state, current, 8, 200, 1), Gate::Process);
        // Replay of the last successful ticket after later requests: still answered.
        assert_eq!(
            gate(&state, current, 5, 90, 1),
            Gate::Replay(b"ok".to_vec())
        );
    }

    #[test]
    fn a_wrong_token_is_invalid_token_whatever_the_request_number() {
        let state = KzState {
            last: Some(exchange(7, 100, 1, b"last")),
            last_ok: Some(exchange(5, 90, 1, b"ok")),
            ..KzState::default()
        };
        for reqnum in [5, 7, 8] {
            assert_eq!(
                gate(&state, 200, reqnum, 12345, 1),
                Gate::Refuse(ResultTypeEnum::InvalidToken),
                "REQNUM {reqnum}"
            );
        }
    }

    #[test]
    fn first_request_needs_the_issued_token() {
        let state = KzState::default();
        assert_eq!(gate(&state, 42, 1, 42, 0), Gate::Process);
        assert_eq!(
            gate(&state, 42, 1, 41, 0),
            Gate::Refuse(ResultTypeEnum::InvalidToken)
        );
    }

    #[test]
    fn next_token_is_fresh() {
        for previous in [0, 1, u32::MAX] {
            let t = next_token(previous);
            assert_ne!(t, 0);
            assert_ne!(t, previous);
        }
    }
}
