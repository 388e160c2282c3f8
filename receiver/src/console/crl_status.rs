//! The revocation lists the trust bundle carries to the devices, as the operator must watch
//! them: a device judges each list by its own nextUpdate, so a list the operator forgets to
//! refresh makes every door check's revocation check fail (`revocation_list_invalid`) once it
//! is past it. The console shows each list with its nextUpdate and warns when one is past it
//! or due within the margin (`serve --crl-warning-hours`, [`crate::Limits`]); `/metrics`
//! exports the same for alerting:
//!
//! - `honnin_trust_bundle_serial`: the serial of the loaded trust;
//! - `honnin_trust_crl_next_update_seconds{list}`: each list's nextUpdate (Unix time), so an
//!   alert can be `honnin_trust_crl_next_update_seconds - time() < 86400`;
//! - `honnin_trust_crl_warning{list}`: 1 when the list is past its nextUpdate or within the
//!   margin (the console's warning), else 0.

use std::fmt::Write as _;

use serde::Serialize;

use crate::trust_bundle::LoadedTrust;

/// Where a list stands against its nextUpdate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListState {
    /// Its nextUpdate is further away than the margin.
    Current,
    /// Its nextUpdate is within the margin: load a fresh list soon.
    DueSoon,
    /// Past its nextUpdate: devices refuse it as current now.
    Stale,
}

/// One list of the loaded trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListStatus {
    pub label: String,
    pub this_update: i64,
    /// Every loaded list has one (`trust-load` refuses a list without).
    pub next_update: Option<i64>,
    /// Seconds from now to its nextUpdate (negative once past).
    pub seconds_left: Option<i64>,
    pub state: ListState,
}

/// The loaded trust as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustStatus {
    pub serial: u64,
    pub loaded_at: i64,
    pub anchors: usize,
    pub mdoc_anchors: usize,
    pub warning_margin_seconds: i64,
    pub lists: Vec<ListStatus>,
    /// Lists that are stale or due within the margin.
    pub warnings: usize,
}

/// The status of `trust` at `now` with a warning `margin` (seconds).
pub fn status(trust: &LoadedTrust, now: i64, margin: i64) -> TrustStatus {
    let lists: Vec<ListStatus> = trust
        .lists
        .iter()
        .map(|list| {
            let seconds_left = list.next_update.map(|next| next.saturating_sub(now));
            let state = match seconds_left {
                // No nextUpdate cannot be told current: as bad as stale.
                None => ListState::Stale,
                Some(left) if left < 0 => ListState::Stale,
                Some(left) if left <= margin => ListState::DueSoon,
                Some(_) => ListState::Current,
            };
            ListStatus {
                label: list.label.clone(),
                this_update: list.this_update,
                next_update: list.next_update,
                seconds_left,
                state,
            }
        })
        .collect();
    TrustStatus {
        serial: trust.serial,
        loaded_at: trust.loaded_at,
        anchors: trust.anchors.len(),
        mdoc_anchors: trust.mdoc_anchors.len(),
        warning_margin_seconds: margin,
        warnings: lists
            .iter()
            .filter(|l| l.state != ListState::Current)
            .count(),
        lists,
    }
}

/// A label value as the text format writes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of `status` (nothing when no trust is loaded).
pub fn exposition(status: Option<&TrustStatus>) -> String {
    let mut out = String::new();
    let Some(status) = status else {
        return out;
    };
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP honnin_trust_bundle_serial Serial of the trust bundle loaded for the devices.\n# TYPE honnin_trust_bundle_serial gauge\nhonnin_trust_bundle_serial {}",
        status.serial
    );
    let _ = writeln!(
        out,
        "# HELP honnin_trust_crl_next_update_seconds nextUpdate of each revocation list in the trust bundle (Unix time); devices refuse a list past it.\n# TYPE honnin_trust_crl_next_update_seconds gauge"
    );
    for list in &status.lists {
        if let Some(next) = list.next_update {
            let _ = writeln!(
                out,
                "honnin_trust_crl_next_update_seconds{{list=\"{}\"}} {next}",
                label(&list.label)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP honnin_trust_crl_warning 1 when a revocation list in the trust bundle is past its nextUpdate or due within {} s: load a fresh one.\n# TYPE honnin_trust_crl_warning gauge",
        status.warning_margin_seconds
    );
    for list in &status.lists {
        let _ = writeln!(
            out,
            "honnin_trust_crl_warning{{list=\"{}\"}} {}",
            label(&list.label),
            u8::from(list.state != ListState::Current)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use honnin_core::trust_bundle::BundleList;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn list(label: &str, next_update: Option<i64>) -> BundleList {
        BundleList {
            label: label.into(),
            crl: String::new(),
            this_update: NOW - 30 * DAY,
            next_update,
        }
    }

    fn trust() -> LoadedTrust {
        LoadedTrust {
            serial: 7,
            loaded_at: NOW - DAY,
            anchors: Vec::new(),
            lists: vec![
                list("auth.crl", Some(NOW + 10 * DAY)),
                list("sign.crl", Some(NOW + DAY)),
                list("old\"ca.crl", Some(NOW - 60)),
            ],
            mdoc_anchors: Vec::new(),
        }
    }

    #[test]
    fn lists_past_or_near_their_next_update_are_warned_of() {
        let status = status(&trust(), NOW, 3 * DAY);
        let states: Vec<ListState> = status.lists.iter().map(|l| l.state).collect();
        assert_eq!(
            states,
            [ListState::Current, ListState::DueSoon, ListState::Stale]
        );
        assert_eq!(status.warnings, 2);
        assert_eq!(status.lists[2].seconds_left, Some(-60));
        // A smaller margin: the list due tomorrow is fine, the stale one is not.
        let relaxed = super::status(&trust(), NOW, 3600);
        assert_eq!(relaxed.warnings, 1);
        assert_eq!(relaxed.lists[1].state, ListState::Current);
        // A list without nextUpdate (not loadable, but kept data could be damaged) is stale.
        let mut odd = trust();
        odd.lists = vec![list("none.crl", None)];
        assert_eq!(
            super::status(&odd, NOW, DAY).lists[0].state,
            ListState::Stale
        );
    }

    #[test]
    fn the_exposition_has_each_lists_next_update_and_warning() {
        let text = exposition(Some(&status(&trust(), NOW, 3 * DAY)));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"honnin_trust_bundle_serial 7"), "{text}");
        let next = format!(
            "honnin_trust_crl_next_update_seconds{{list=\"auth.crl\"}} {}",
            NOW + 10 * DAY
        );
        assert!(lines.contains(&next.as_str()), "{text}");
        for expected in [
            "honnin_trust_crl_warning{list=\"auth.crl\"} 0",
            "honnin_trust_crl_warning{list=\"sign.crl\"} 1",
            "honnin_trust_crl_warning{list=\"old\\\"ca.crl\"} 1",
            "# TYPE honnin_trust_crl_next_update_seconds gauge",
        ] {
            assert!(lines.contains(&expected), "{expected} missing in {text}");
        }
        assert_eq!(exposition(None), "");
    }
}
