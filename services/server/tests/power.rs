//! `PowerService.AnalyzeGame` on the real server: the EEC Council of 1958 (a textbook game with
//! known indices), the EU Council's double majority, Monte Carlo with its error bounds, and bad
//! input refused with the documented codes, changing nothing.

use accord_proto::v1::power_service_client::PowerServiceClient;
use accord_proto::v1::*;
use accord_test_support::grpc::*;
use tonic::Code;

fn players(weights: &[(&str, &[u64])]) -> Vec<Player> {
    weights
        .iter()
        .map(|(name, w)| Player {
            name: name.to_string(),
            weights: w.to_vec(),
        })
        .collect()
}

fn eec() -> Vec<Player> {
    players(&[
        ("France", &[4]),
        ("Germany", &[4]),
        ("Italy", &[4]),
        ("Belgium", &[2]),
        ("Netherlands", &[2]),
        ("Luxembourg", &[1]),
    ])
}

fn quota(vector: u32, threshold: weight_quota::Threshold) -> WeightQuota {
    WeightQuota {
        vector,
        threshold: Some(threshold),
        strict: false,
    }
}

fn eec_request() -> AnalyzeGameRequest {
    AnalyzeGameRequest {
        players: eec(),
        weight_names: vec!["votes".into()],
        rule: Some(GameRule {
            quotas: vec![quota(0, weight_quota::Threshold::Weight(12))],
            ..GameRule::default()
        }),
        method: PowerMethod::Exact as i32,
        ..AnalyzeGameRequest::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eec_council_of_1958_has_its_textbook_indices_and_luxembourg_is_a_dummy() {
    let server = TestServer::start_default().await;
    let mut power = PowerServiceClient::new(server.channel());
    let r = power
        .analyze_game(eec_request())
        .await
        .expect("analyse")
        .into_inner();
    let game = r.game.expect("game");
    // [12; 4, 4, 4, 2, 2, 1]: 14 winning coalitions; swings 10, 10, 10, 6, 6, 0 (of 42).
    assert_eq!(game.winning_coalitions, "14");
    assert_eq!(game.players, 6);
    assert!(close(game.coleman_power, 14.0 / 64.0));
    assert_eq!(game.dummies, vec!["Luxembourg".to_string()]);
    assert!(game.dummies_known);
    assert!(game.veto_players.is_empty());
    assert_eq!(game.dictator, "");
    let by_name = |n: &str| r.players.iter().find(|p| p.name == n).unwrap();
    let france = by_name("France");
    assert!(close(france.banzhaf, 5.0 / 21.0), "{}", france.banzhaf);
    assert!(close(france.banzhaf_absolute, 10.0 / 32.0));
    assert!(close(france.shapley_shubik.unwrap(), 14.0 / 60.0));
    assert_eq!(france.swings, "10");
    let belgium = by_name("Belgium");
    assert!(close(belgium.banzhaf, 3.0 / 21.0));
    assert!(close(belgium.shapley_shubik.unwrap(), 9.0 / 60.0));
    let luxembourg = by_name("Luxembourg");
    assert!(luxembourg.dummy);
    assert_eq!(luxembourg.banzhaf, 0.0);
    assert_eq!(luxembourg.holler, Some(0.0));
    // Minimal winning coalitions: the three large members, or two large and both middle ones.
    assert_eq!(game.minimal_winning_coalitions, "4");
    assert!(close(by_name("Italy").holler.unwrap(), 3.0 / 15.0));
    // Every index asked for (all, by default) is exact.
    let methods: Vec<_> = game.methods.iter().map(|m| (m.index, m.exact)).collect();
    assert_eq!(methods.len(), 6, "{methods:?}");
    assert!(methods.iter().all(|(_, exact)| *exact));
    assert!(game.not_computed.is_empty());

    // The same game estimated by Monte Carlo carries its sample size and error bound.
    let mut request = eec_request();
    request.method = PowerMethod::MonteCarlo as i32;
    request.samples = 20_000;
    request.seed = 7;
    let r = power.analyze_game(request).await.unwrap().into_inner();
    let game = r.game.unwrap();
    assert_eq!(game.winning_coalitions, "");
    let banzhaf = game
        .methods
        .iter()
        .find(|m| m.index == PowerIndex::Banzhaf as i32)
        .unwrap();
    assert!(!banzhaf.exact);
    assert_eq!(banzhaf.samples, 20_000);
    assert_eq!(banzhaf.seed, 7);
    assert!(banzhaf.error_bound > 0.0 && banzhaf.error_bound < 0.02);
    assert_eq!(banzhaf.standard_errors.len(), 6);
    assert!((r.players[0].banzhaf_absolute - 0.3125).abs() < banzhaf.error_bound);
    assert!(
        game.not_computed.iter().any(|m| m.contains("Deegan")),
        "{:?}",
        game.not_computed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_majority_with_a_blocking_minority_counts_members_and_weight_together() {
    let server = TestServer::start_default().await;
    let mut power = PowerServiceClient::new(server.channel());
    // Five players, population 40/30/15/10/5; 65 % of population, 3 of 5 members, blocking
    // minority 2: the two largest cannot win alone (members), and any four players win (the
    // one outside cannot block alone).
    let request = AnalyzeGameRequest {
        players: players(&[
            ("A", &[40]),
            ("B", &[30]),
            ("C", &[15]),
            ("D", &[10]),
            ("E", &[5]),
        ]),
        rule: Some(GameRule {
            quotas: vec![quota(0, weight_quota::Threshold::Share(0.65))],
            member_quota: Some(MemberQuota {
                at_least: 3,
                share: 0.55,
            }),
            min_blocking: 2,
        }),
        ..AnalyzeGameRequest::default()
    };
    let r = power.analyze_game(request).await.unwrap().into_inner();
    let game = r.game.unwrap();
    // Winning: size ≥ 3 with weight ≥ 65, or size ≥ 4. Size 3 with ≥ 65: ABC, ABD, ABE(75),
    // ACD(65) = 4; size 4: 5; size 5: 1. Total 10.
    assert_eq!(game.winning_coalitions, "10");
    assert!(game.veto_players.is_empty());
    assert!(r.players[0].banzhaf > r.players[4].banzhaf);
}

async fn code_of(
    power: &mut PowerServiceClient<tonic::transport::Channel>,
    request: AnalyzeGameRequest,
) -> (Code, String) {
    let status = power
        .analyze_game(request)
        .await
        .expect_err("the request is refused");
    (status.code(), status.message().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_games_are_refused_with_the_field_named_and_nothing_changes() {
    let server = TestServer::start_default().await;
    let mut power = PowerServiceClient::new(server.channel());
    let members_before = server
        .members()
        .list_members(ListMembersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total_size;

    let (code, message) = code_of(
        &mut power,
        AnalyzeGameRequest {
            players: Vec::new(),
            ..eec_request()
        },
    )
    .await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("players"), "{message}");

    let mut mismatched = eec_request();
    mismatched.players[3].weights.push(1);
    let (code, message) = code_of(&mut power, mismatched).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("players[3].weights"), "{message}");

    let mut too_high = eec_request();
    too_high.rule.as_mut().unwrap().quotas[0].threshold = Some(weight_quota::Threshold::Weight(18));
    let (code, message) = code_of(&mut power, too_high).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.contains("rule.quotas[0].weight") && message.contains("18"),
        "{message}"
    );

    let mut bad_share = eec_request();
    bad_share.rule.as_mut().unwrap().quotas[0].threshold =
        Some(weight_quota::Threshold::Share(1.5));
    let (code, message) = code_of(&mut power, bad_share).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("share"), "{message}");

    let mut wrong_vector = eec_request();
    wrong_vector.rule.as_mut().unwrap().quotas[0].vector = 2;
    assert_eq!(
        code_of(&mut power, wrong_vector).await.0,
        Code::InvalidArgument
    );

    let mut duplicate = eec_request();
    duplicate.players[1].name = "France".into();
    let (code, message) = code_of(&mut power, duplicate).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("used twice"), "{message}");

    let mut blocking = eec_request();
    blocking.rule.as_mut().unwrap().min_blocking = 7;
    assert_eq!(code_of(&mut power, blocking).await.0, Code::InvalidArgument);

    let mut samples = eec_request();
    samples.samples = 10_000_000;
    assert_eq!(code_of(&mut power, samples).await.0, Code::InvalidArgument);

    // Too large to count exactly, and exact demanded: 120 players with weights near 10^12.
    let big = AnalyzeGameRequest {
        players: (0..120)
            .map(|i| Player {
                name: format!("P{i}"),
                weights: vec![1_000_000_000_000 + 7_919 * i as u64],
            })
            .collect(),
        rule: Some(GameRule {
            quotas: vec![quota(0, weight_quota::Threshold::Share(0.5))],
            ..GameRule::default()
        }),
        method: PowerMethod::Exact as i32,
        ..AnalyzeGameRequest::default()
    };
    let (code, message) = code_of(&mut power, big.clone()).await;
    assert_eq!(code, Code::ResourceExhausted, "{message}");
    assert!(message.contains("monte_carlo"), "{message}");
    // With auto, the same game is estimated instead.
    let auto = AnalyzeGameRequest {
        method: PowerMethod::Auto as i32,
        indices: vec![PowerIndex::Banzhaf as i32],
        samples: 2_000,
        ..big
    };
    let r = power.analyze_game(auto).await.unwrap().into_inner();
    assert!(!r.game.unwrap().methods[0].exact);

    let members_after = server
        .members()
        .list_members(ListMembersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total_size;
    assert_eq!(members_before, members_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_with_long_codes_are_created_and_deleted_unless_they_have_a_record() {
    let server = TestServer::start_default().await;
    let mut members = server.members();
    let member = Member {
        code: "IMF-ED-12".into(),
        display_name: "Executive Director 12".into(),
        status: MemberStatus::Active as i32,
        attributes: [("votes".to_string(), 1649.0)].into(),
        ..Member::default()
    };
    let created = members
        .create_member(server.operator(CreateMemberRequest {
            member: Some(member.clone()),
        }))
        .await
        .expect("a long code is accepted")
        .into_inner()
        .member
        .unwrap();
    assert_eq!(created.name, "members/IMF-ED-12");
    for bad in ["imf", "A234567890123456X", "1AB", "A B"] {
        let status = members
            .create_member(server.operator(CreateMemberRequest {
                member: Some(Member {
                    code: bad.into(),
                    ..member.clone()
                }),
            }))
            .await
            .expect_err("a bad code is refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        assert!(
            status.message().contains("member.code"),
            "{}",
            status.message()
        );
    }
    let deleted = members
        .delete_member(server.operator(DeleteMemberRequest {
            name: "members/IMF-ED-12".into(),
        }))
        .await
        .expect("delete")
        .into_inner()
        .member
        .unwrap();
    assert_eq!(deleted.display_name, "Executive Director 12");
    let status = members
        .get_member(GetMemberRequest {
            name: "members/IMF-ED-12".into(),
        })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
    let status = members
        .delete_member(server.operator(DeleteMemberRequest {
            name: "members/IMF-ED-12".into(),
        }))
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
}
