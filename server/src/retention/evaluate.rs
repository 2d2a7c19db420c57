//! Which artifacts of a repository a policy retains: Harbor's semantics as a pure function, so
//! dry runs, real runs, the benchmark and the tests share one evaluation.
//!
//! Candidates are the repository's top-level artifacts: manifests that no index in the
//! repository names and that are not attached (through `subject`) to another manifest of the
//! repository. An artifact's push and pull times are the latest over it and its tags. Every
//! rule that applies to the repository picks candidates with its tag selectors and retains some
//! of them with its template; the policy retains the union. A retained artifact keeps its index
//! children and its referrers (signatures, SBOMs), recursively; everything else goes.

use std::collections::{HashMap, HashSet};

use super::policy::{Policy, Rule, Template};

pub use crate::db::retention::{Manifest, Repository, Tag};

/// Why a manifest is kept or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A rule retained the candidate (the first such rule's number).
    Rule(usize),
    /// A candidate no rule retained.
    NoRule,
    /// Follows an index or a subject (retained if any owner is).
    Owned,
    /// Carries a tag an immutability rule protects: never deleted.
    Immutable,
}

/// One manifest's verdict, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Index into [`Repository::manifests`].
    pub index: usize,
    /// Kept.
    pub retained: bool,
    /// Why.
    pub reason: Reason,
    /// Latest push over the manifest and its tags.
    pub pushed_at: i64,
    /// Latest pull over the manifest and its tags.
    pub pulled_at: Option<i64>,
}

/// The outcome for one repository the policy applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Candidates (top-level artifacts).
    pub total: usize,
    /// Candidates retained.
    pub retained: usize,
    /// Manifest ids to delete, each after every index naming it.
    pub delete: Vec<i64>,
    /// Every manifest: candidates newest push first, then the rest.
    pub verdicts: Vec<Verdict>,
}

struct Candidate<'a> {
    index: usize,
    id: i64,
    tags: Vec<&'a str>,
    labels: Vec<&'a str>,
    pushed: i64,
    pulled: Option<i64>,
}

fn retained_by(rule: &Rule, candidates: &[Candidate<'_>], now: i64) -> Vec<usize> {
    let mut chosen: Vec<&Candidate<'_>> =
        candidates.iter().filter(|c| rule.considers(&c.tags, &c.labels)).collect();
    let top = |chosen: &mut Vec<&Candidate<'_>>, k: usize, key: &dyn Fn(&Candidate<'_>) -> i64| {
        chosen.sort_by(|a, b| key(b).cmp(&key(a)).then(b.id.cmp(&a.id)));
        chosen.truncate(k);
    };
    match rule.template {
        Template::LatestPushed(k) => top(&mut chosen, k, &|c| c.pushed),
        Template::LatestPulled(k) => top(&mut chosen, k, &|c| c.pulled.unwrap_or(-1)),
        Template::LatestActive(k) => top(&mut chosen, k, &|c| c.pulled.map_or(c.pushed, |p| p.max(c.pushed))),
        Template::DaysSincePush(n) => {
            let since = Template::since(n, now);
            chosen.retain(|c| c.pushed >= since);
        }
        Template::DaysSincePull(n) => {
            let since = Template::since(n, now);
            chosen.retain(|c| c.pulled.is_some_and(|p| p >= since));
        }
        Template::Always => {}
    }
    chosen.into_iter().map(|c| c.index).collect()
}

/// Evaluates `policy` on `repo` at time `now`; `None` when no rule applies to the repository
/// (it is then left untouched).
pub fn evaluate(policy: &Policy, repo: &Repository, now: i64) -> Option<Outcome> {
    evaluate_with(policy, repo, now, &|_, _| false)
}

/// As [`evaluate`], keeping every candidate with a tag `immutable` says is protected, given
/// the tag and the artifact's labels (Harbor skips those and logs them as immutable).
pub fn evaluate_with(
    policy: &Policy,
    repo: &Repository,
    now: i64,
    immutable: &dyn Fn(&str, &[&str]) -> bool,
) -> Option<Outcome> {
    let rules: Vec<&Rule> = policy.rules.iter().filter(|r| r.applies_to(&repo.name)).collect();
    if rules.is_empty() {
        return None;
    }
    let ms = &repo.manifests;
    let by_id: HashMap<i64, usize> = ms.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    let by_digest: HashMap<&str, usize> =
        ms.iter().enumerate().map(|(i, m)| (m.digest.as_str(), i)).collect();
    // owned[i]: the manifests that keep manifest i alive (its indexes and its subject).
    let mut owners: Vec<Vec<usize>> = vec![Vec::new(); ms.len()];
    let mut owned: Vec<Vec<usize>> = vec![Vec::new(); ms.len()];
    for &(parent, child) in &repo.children {
        if let (Some(&p), Some(&c)) = (by_id.get(&parent), by_id.get(&child)) {
            owners[c].push(p);
            owned[p].push(c);
        }
    }
    for (i, m) in ms.iter().enumerate() {
        if let Some(&s) = m.subject.as_deref().and_then(|s| by_digest.get(s))
            && s != i
        {
            owners[i].push(s);
            owned[s].push(i);
        }
    }
    let mut candidates: Vec<Candidate<'_>> = ms
        .iter()
        .enumerate()
        .filter(|(i, _)| owners[*i].is_empty())
        .map(|(index, m)| Candidate {
            index,
            id: m.id,
            tags: m.tags.iter().map(|t| t.name.as_str()).collect(),
            labels: m.labels.iter().map(String::as_str).collect(),
            pushed: m.tags.iter().map(|t| t.pushed_at).fold(m.pushed_at, i64::max),
            pulled: m.tags.iter().filter_map(|t| t.pulled_at).chain(m.pulled_at).max(),
        })
        .collect();
    candidates.sort_by(|a, b| b.pushed.cmp(&a.pushed).then(b.id.cmp(&a.id)));

    let mut by_rule: Vec<Option<usize>> = vec![None; ms.len()];
    for rule in &rules {
        for i in retained_by(rule, &candidates, now) {
            by_rule[i].get_or_insert(rule.number);
        }
    }
    let protected: HashSet<usize> = candidates
        .iter()
        .filter(|c| c.tags.iter().any(|t| immutable(t, &c.labels)))
        .map(|c| c.index)
        .collect();
    // Keep what retained artifacts own, transitively.
    let mut keep: Vec<bool> =
        by_rule.iter().enumerate().map(|(i, r)| r.is_some() || protected.contains(&i)).collect();
    let mut stack: Vec<usize> = (0..ms.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = stack.pop() {
        for &o in &owned[i] {
            if !keep[o] {
                keep[o] = true;
                stack.push(o);
            }
        }
    }

    let mut verdicts: Vec<Verdict> = candidates
        .iter()
        .map(|c| Verdict {
            index: c.index,
            retained: keep[c.index],
            reason: if protected.contains(&c.index) {
                Reason::Immutable
            } else {
                by_rule[c.index].map_or(Reason::NoRule, Reason::Rule)
            },
            pushed_at: c.pushed,
            pulled_at: c.pulled,
        })
        .collect();
    let candidate_set: HashSet<usize> = candidates.iter().map(|c| c.index).collect();
    verdicts.extend((0..ms.len()).filter(|i| !candidate_set.contains(i)).map(|i| Verdict {
        index: i,
        retained: keep[i],
        reason: Reason::Owned,
        pushed_at: ms[i].pushed_at,
        pulled_at: ms[i].pulled_at,
    }));

    // Parents before children: an index's row must go before the rows it names.
    let mut depth: Vec<Option<usize>> = vec![None; ms.len()];
    fn depth_of(i: usize, owners: &[Vec<usize>], depth: &mut [Option<usize>], guard: usize) -> usize {
        if let Some(d) = depth[i] {
            return d;
        }
        let d = if guard == 0 {
            0
        } else {
            owners[i].iter().map(|&o| depth_of(o, owners, depth, guard - 1) + 1).max().unwrap_or(0)
        };
        depth[i] = Some(d);
        d
    }
    let mut delete: Vec<(usize, i64)> = (0..ms.len())
        .filter(|&i| !keep[i])
        .map(|i| (depth_of(i, &owners, &mut depth, 64), ms[i].id))
        .collect();
    delete.sort_unstable();
    Some(Outcome {
        total: candidates.len(),
        retained: candidates.iter().filter(|c| keep[c.index]).count(),
        delete: delete.into_iter().map(|(_, id)| id).collect(),
        verdicts,
    })
}

#[cfg(test)]
mod tests {
    use super::super::policy::tests::rule;
    use super::super::policy::{PolicyDoc, RuleDoc, SelectorDoc};
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;
    const NOW: i64 = 100 * DAY;

    /// A manifest named `name` (its digest is `sha256:<name>`), pushed `pushed` days after day 0,
    /// pulled `pulled` days after day 0, with tags.
    fn art(id: i64, pushed: i64, pulled: Option<i64>, tags: &[&str]) -> Manifest {
        Manifest {
            id,
            digest: format!("sha256:{id}"),
            kind: frontend::types::ArtifactKind::Image,
            pushed_at: pushed * DAY,
            pulled_at: pulled.map(|d| d * DAY),
            subject: None,
            tags: tags
                .iter()
                .map(|t| Tag { name: (*t).into(), pushed_at: pushed * DAY, pulled_at: None })
                .collect(),
            labels: Vec::new(),
        }
    }

    /// A repository `app` with ten artifacts: ids 1..=10 pushed on days 90..=99, tags v1..v10;
    /// 3 and 5 untagged; 4 pulled on day 99 and 2 on day 98; 7 carries `latest` too.
    fn repo() -> Repository {
        let mut ms: Vec<Manifest> = (1..=10)
            .map(|i| {
                let tag = format!("v{i}");
                art(i, 89 + i, None, &[tag.as_str()])
            })
            .collect();
        ms[2].tags.clear();
        ms[4].tags.clear();
        ms[3].pulled_at = Some(99 * DAY);
        ms[1].tags[0].pulled_at = Some(98 * DAY);
        ms[6].tags.push(Tag { name: "latest".into(), pushed_at: 96 * DAY, pulled_at: None });
        Repository { name: "app".into(), manifests: ms, children: Vec::new() }
    }

    fn kept(rules: Vec<RuleDoc>, r: &Repository) -> Option<Vec<i64>> {
        let policy = PolicyDoc { rules, ..Default::default() }.compile().expect("valid");
        let out = evaluate(&policy, r, NOW)?;
        let gone: HashSet<i64> = out.delete.iter().copied().collect();
        let mut ids: Vec<i64> = r.manifests.iter().map(|m| m.id).filter(|id| !gone.contains(id)).collect();
        ids.sort_unstable();
        assert_eq!(out.retained + gone.iter().filter(|id| **id <= 10).count(), out.total);
        Some(ids)
    }

    #[test]
    fn each_template_alone() {
        let all = ("repoMatches", "**");
        let any = ("matches", "**", "");
        let tagged_only = ("matches", "**", r#"{"untagged":false}"#);
        let table: Vec<(&str, RuleDoc, Vec<i64>)> = vec![
            ("latest 3 pushed", rule("latestPushedK", Some(3), all, any), vec![8, 9, 10]),
            (
                "latest 3 pushed, tagged only",
                rule("latestPushedK", Some(3), all, tagged_only),
                vec![8, 9, 10],
            ),
            ("latest 0 pushed", rule("latestPushedK", Some(0), all, any), vec![]),
            ("latest 2 pulled", rule("latestPulledN", Some(2), all, any), vec![2, 4]),
            (
                "latest 1 pulled among v1,v2,v3 (tag pull time counts)",
                rule("latestPulledN", Some(1), all, ("matches", "v{1,2,3}", "")),
                vec![2],
            ),
            ("latest 2 active", rule("latestActiveK", Some(2), all, any), vec![4, 10]),
            ("pushed within 3 days", rule("nDaysSinceLastPush", Some(3), all, any), vec![8, 9, 10]),
            ("pulled within 1 day", rule("nDaysSinceLastPull", Some(1), all, any), vec![4]),
            ("pulled within 2 days", rule("nDaysSinceLastPull", Some(2), all, any), vec![2, 4]),
            ("always, all", rule("always", None, all, any), (1..=10).collect()),
            ("always, tagged only", rule("always", None, all, tagged_only), vec![1, 2, 4, 6, 7, 8, 9, 10]),
            (
                "always, untagged only (pattern that no tag matches)",
                rule("always", None, all, ("matches", "nothing-matches", r#"{"untagged":true}"#)),
                vec![3, 5],
            ),
            ("always, matching v1*", rule("always", None, all, ("matches", "v1*", "")), vec![1, 3, 5, 10]),
            (
                "always, excluding v1* (untagged excluded by default)",
                rule("always", None, all, ("excludes", "v1*", "")),
                vec![2, 4, 6, 7, 8, 9],
            ),
            (
                "always, excluding v1* with untagged",
                rule("always", None, all, ("excludes", "v1*", r#"{"untagged":true}"#)),
                vec![2, 3, 4, 5, 6, 7, 8, 9],
            ),
            (
                "one matching tag keeps the artifact with all its tags",
                rule("always", None, all, ("matches", "latest", r#"{"untagged":false}"#)),
                vec![7],
            ),
            (
                "excludes: an artifact with a matching tag is not chosen",
                rule("always", None, all, ("excludes", "latest", "")),
                vec![1, 2, 4, 6, 8, 9, 10],
            ),
        ];
        for (name, r, want) in table {
            assert_eq!(kept(vec![r], &repo()), Some(want), "{name}");
        }
    }

    #[test]
    fn label_selectors_narrow_what_a_rule_considers() {
        let mut r = repo();
        r.manifests[0].labels = vec!["release".into(), "lts".into()];
        r.manifests[5].labels = vec!["release".into()];
        let with = |decoration: &str, names: &str| {
            let mut doc = rule("always", None, ("repoMatches", "**"), ("matches", "**", ""));
            doc.tag_selectors.push(SelectorDoc {
                kind: "label".into(),
                decoration: decoration.into(),
                pattern: names.into(),
                extras: String::new(),
            });
            doc
        };
        assert_eq!(kept(vec![with("withLabels", "release")], &r), Some(vec![1, 6]));
        assert_eq!(kept(vec![with("withLabels", "release, lts")], &r), Some(vec![1]), "all named");
        assert_eq!(kept(vec![with("withoutLabels", "release")], &r), Some(vec![2, 3, 4, 5, 7, 8, 9, 10]));
        // Immutability sees the labels too: a rule protecting labelled artifacts keeps 6.
        let policy = PolicyDoc {
            rules: vec![rule("latestPushedK", Some(1), ("repoMatches", "**"), ("matches", "**", ""))],
            ..Default::default()
        }
        .compile()
        .expect("valid");
        let out = evaluate_with(&policy, &r, NOW, &|_, labels| labels.contains(&"release")).expect("applies");
        assert!(!out.delete.contains(&1) && !out.delete.contains(&6) && out.delete.contains(&2));
        let bad = PolicyDoc { rules: vec![with("withSome", "x")], ..Default::default() };
        assert!(bad.compile().expect_err("refused").to_string().contains("withLabels"));
        let empty = PolicyDoc { rules: vec![with("withLabels", " , ")], ..Default::default() };
        assert!(empty.compile().is_err());
    }

    #[test]
    fn rules_combine_with_or_and_repository_selectors_scope_them() {
        let any = ("matches", "**", "");
        let r = repo();
        // Union of two rules.
        let got = kept(
            vec![
                rule("latestPushedK", Some(2), ("repoMatches", "**"), any),
                rule("latestPulledN", Some(1), ("repoMatches", "**"), any),
            ],
            &r,
        );
        assert_eq!(got, Some(vec![4, 9, 10]));
        // A rule whose repository selector does not choose the repository does not apply; if no
        // rule applies, the repository is untouched (None), not emptied.
        assert_eq!(kept(vec![rule("always", None, ("repoMatches", "other/**"), any)], &r), None);
        assert_eq!(kept(vec![rule("always", None, ("repoExcludes", "app"), any)], &r), None);
        assert_eq!(
            kept(
                vec![
                    rule("always", None, ("repoMatches", "other"), any),
                    rule("latestPushedK", Some(1), ("repoMatches", "app,web"), any),
                ],
                &r,
            ),
            Some(vec![10])
        );
        assert_eq!(
            kept(vec![rule("latestPushedK", Some(1), ("repoExcludes", "web"), any)], &r),
            Some(vec![10])
        );
        // A disabled rule neither retains nor applies.
        let mut off = rule("always", None, ("repoMatches", "**"), any);
        off.disabled = true;
        assert_eq!(kept(vec![off.clone()], &r), None);
        assert_eq!(
            kept(vec![off, rule("latestPushedK", Some(1), ("repoMatches", "**"), any)], &r),
            Some(vec![10])
        );
        // Nested repository names: `*` stops at `/`, `**` does not.
        let mut nested = repo();
        nested.name = "team/app".into();
        assert_eq!(kept(vec![rule("latestPushedK", Some(1), ("repoMatches", "*"), any)], &nested), None);
        assert_eq!(
            kept(vec![rule("latestPushedK", Some(1), ("repoMatches", "team/*"), any)], &nested),
            Some(vec![10])
        );
    }

    #[test]
    fn index_children_and_referrers_follow_their_owner() {
        // 1: index naming 2 and 3 (tagged v1, old); 4: index naming 3 and 5 (tagged v2, new);
        // 6: a signature of 4; 7: a signature of 1; 8: untagged image; 9: SBOM of 6 (nested).
        let mut ms = vec![
            art(1, 10, None, &["v1"]),
            art(2, 10, None, &[]),
            art(3, 10, None, &[]),
            art(4, 20, None, &["v2"]),
            art(5, 20, None, &[]),
            art(6, 21, None, &[]),
            art(7, 11, None, &[]),
            art(8, 5, None, &[]),
            art(9, 22, None, &[]),
        ];
        ms[5].subject = Some("sha256:4".into());
        ms[6].subject = Some("sha256:1".into());
        ms[8].subject = Some("sha256:6".into());
        let r =
            Repository { name: "app".into(), manifests: ms, children: vec![(1, 2), (1, 3), (4, 3), (4, 5)] };
        let policy = PolicyDoc {
            rules: vec![rule("latestPushedK", Some(1), ("repoMatches", "**"), ("matches", "**", ""))],
            ..Default::default()
        }
        .compile()
        .expect("valid");
        let out = evaluate(&policy, &r, NOW).expect("valid");
        // Candidates: 1, 4, 8 (the rest are owned). Latest pushed: 4.
        assert_eq!((out.total, out.retained), (3, 1));
        // 3 is shared by 1 and 4 and stays with 4; 5, 6 and 9 stay with 4.
        assert_eq!(out.delete, vec![1, 8, 2, 7], "parents first, then what only they owned");
        let v: HashMap<i64, &Verdict> = out.verdicts.iter().map(|v| (r.manifests[v.index].id, v)).collect();
        assert_eq!(v[&4].reason, Reason::Rule(1));
        assert_eq!(v[&1].reason, Reason::NoRule);
        assert_eq!(v[&5].reason, Reason::Owned);
        assert!(v[&9].retained);
    }

    #[test]
    fn a_referrer_whose_subject_is_gone_is_a_candidate() {
        let mut ms = vec![art(1, 10, None, &[]), art(2, 20, None, &["v1"])];
        ms[0].subject = Some("sha256:deadbeef".into());
        let r = Repository { name: "app".into(), manifests: ms, children: vec![] };
        let got =
            kept(vec![rule("latestPushedK", Some(1), ("repoMatches", "**"), ("matches", "**", ""))], &r);
        assert_eq!(got, Some(vec![2]));
    }

    #[test]
    fn push_and_pull_times_are_the_latest_over_the_artifact_and_its_tags() {
        // 1 pushed on day 10 but re-tagged on day 30; 2 pushed on day 20.
        let mut ms = vec![art(1, 10, None, &["old"]), art(2, 20, None, &["mid"])];
        ms[0].tags.push(Tag { name: "retagged".into(), pushed_at: 30 * DAY, pulled_at: Some(31 * DAY) });
        let r = Repository { name: "app".into(), manifests: ms, children: vec![] };
        let any = ("matches", "**", "");
        assert_eq!(kept(vec![rule("latestPushedK", Some(1), ("repoMatches", "**"), any)], &r), Some(vec![1]));
        assert_eq!(kept(vec![rule("latestPulledN", Some(1), ("repoMatches", "**"), any)], &r), Some(vec![1]));
    }
}
