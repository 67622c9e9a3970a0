//! Forecast RPCs on the real server: the zone of agreement (EvaluateProposal.what_could_pass)
//! and the batch evaluation a sweep uses (EvaluateBatch) — its results, and its refusals of bad
//! input (INVALID_ARGUMENT naming the item; nothing changes).

use accord_proto::v1::*;
use accord_test_support::grpc::*;
use tonic::Code;

fn with_position(code: &str, choice: Choice, d: Date, salience: f64) -> Ballot {
    Ballot {
        position: Some(Position {
            value: Some(position::Value::Date(d)),
        }),
        salience: Some(salience),
        ..ballot(code, choice)
    }
}

fn range(low: Date, high: Date) -> Option<AcceptableRange> {
    let p = |d| {
        Some(Position {
            value: Some(position::Value::Date(d)),
        })
    };
    Some(AcceptableRange {
        low: p(low),
        high: p(high),
    })
}

fn hypothetical(ballots: Vec<Ballot>, policy_id: &str) -> EvaluateProposalRequest {
    EvaluateProposalRequest {
        subject: Some(evaluate_proposal_request::Subject::Proposal(proposal(
            "End NMI",
            end_mission("NMI", date(2026, 9, 30)),
            policy_id,
        ))),
        ballots,
        policies: vec![policy(policy_id)],
        evaluate_time: Some(from_now(std::time::Duration::from_secs(86_400 * 400))),
        ..Default::default()
    }
}

fn ballots() -> Vec<Ballot> {
    let mut usa = with_position("USA", Choice::Support, date(2026, 9, 30), 0.8);
    usa.acceptable_range = Some(AcceptableRange {
        low: None,
        high: Some(Position {
            value: Some(position::Value::Date(date(2027, 6, 30))),
        }),
    });
    let mut deu = with_position("DEU", Choice::Object, date(2027, 9, 30), 0.4);
    deu.acceptable_range = range(date(2027, 3, 31), date(2027, 12, 31));
    let mut fra = with_position("FRA", Choice::Object, date(2027, 6, 30), 0.4);
    fra.acceptable_range = range(date(2027, 1, 1), date(2027, 9, 30));
    vec![usa, deu, fra]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_could_pass_finds_the_zone_every_member_accepts() {
    let server = TestServer::start_default().await;
    let mut client = server.proposals();
    let mut request = hypothetical(ballots(), "bargaining");
    request.what_could_pass = Some(ZoneOfAgreementRequest::default());
    let response = client
        .evaluate_proposal(request)
        .await
        .unwrap()
        .into_inner();
    let zone = response.zone_of_agreement.expect("a zone");
    assert_eq!(zone.rule, AgreementRule::Unanimity as i32);
    assert!(!zone.tabled_passes);
    assert_eq!(zone.passing.len(), 1, "{:?}", zone.explanation);
    let date_of = |p: &Option<Position>| match p.as_ref().and_then(|p| p.value) {
        Some(position::Value::Date(d)) => (d.year, d.month, d.day),
        other => panic!("not a date: {other:?}"),
    };
    assert_eq!(date_of(&zone.passing[0].low), (2027, 3, 31));
    assert_eq!(date_of(&zone.passing[0].high), (2027, 6, 30));
    assert_eq!(
        date_of(&zone.adopted),
        (2027, 3, 31),
        "nearest to the tabled value"
    );
    assert_eq!(
        zone.accepting.len(),
        32,
        "the silent members do not stand in the way"
    );
    assert!(zone.refusing.is_empty());
    assert_eq!(zone.member_ranges.iter().filter(|r| r.stated).count(), 3);
    // The bargaining decision comes with it.
    assert!(
        response.evaluations[0]
            .decision
            .as_ref()
            .unwrap()
            .forecast_position
            .is_some()
    );

    // Qualified majority, equal weights, a low quota: members who did not vote accept nothing.
    let mut request = hypothetical(ballots(), "bargaining");
    request.what_could_pass = Some(ZoneOfAgreementRequest {
        rule: AgreementRule::QualifiedMajority as i32,
        quota: Some(0.05),
        ..Default::default()
    });
    let zone = client
        .evaluate_proposal(request)
        .await
        .unwrap()
        .into_inner()
        .zone_of_agreement
        .unwrap();
    assert_eq!(
        date_of(&zone.adopted),
        (2027, 1, 1),
        "{:?}",
        zone.explanation
    );

    // A motion has no quantity; a bad quota is refused; a range of the wrong kind too.
    let mut request = hypothetical(Vec::new(), "unanimity");
    if let Some(evaluate_proposal_request::Subject::Proposal(p)) = request.subject.as_mut() {
        p.action = Some(motion("no quantity"));
    }
    request.what_could_pass = Some(ZoneOfAgreementRequest::default());
    assert_status(
        client.evaluate_proposal(request).await,
        Code::InvalidArgument,
        &["what_could_pass", "no quantity"],
    );
    let mut request = hypothetical(ballots(), "unanimity");
    request.what_could_pass = Some(ZoneOfAgreementRequest {
        quota: Some(1.5),
        ..Default::default()
    });
    assert_status(
        client.evaluate_proposal(request).await,
        Code::InvalidArgument,
        &["what_could_pass.quota"],
    );
    let mut bad = ballots();
    bad[1].acceptable_range = Some(AcceptableRange {
        low: Some(Position {
            value: Some(position::Value::Amount(3000.0)),
        }),
        high: None,
    });
    assert_status(
        client
            .evaluate_proposal(hypothetical(bad, "unanimity"))
            .await,
        Code::InvalidArgument,
        &["ballots[1].acceptable_range.low"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_batch_answers_every_item_in_order_and_refuses_bad_input_whole() {
    let server = TestServer::start_default().await;
    let mut client = server.proposals();
    let count = |c: &mut proposal_service_client::ProposalServiceClient<_>| {
        let mut c = c.clone();
        async move {
            c.list_proposals(ListProposalsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .total_size
        }
    };
    let before = count(&mut client).await;
    let items: Vec<EvaluateProposalRequest> = (0..40)
        .map(|k| {
            let mut b = ballots();
            b[1].salience = Some(k as f64 / 40.0);
            hypothetical(
                b,
                if k % 2 == 0 {
                    "bargaining"
                } else {
                    "unanimity"
                },
            )
        })
        .collect();
    let response = client
        .evaluate_batch(EvaluateBatchRequest {
            evaluations: items.clone(),
            brief: true,
        })
        .await
        .expect("a batch")
        .into_inner();
    assert_eq!(response.results.len(), 40);
    for (k, result) in response.results.iter().enumerate() {
        let e = &result.evaluations[0];
        let expected = if k % 2 == 0 {
            "bargaining"
        } else {
            "unanimity"
        };
        assert_eq!(
            e.policy,
            format!("policies/{expected}"),
            "item {k} in order"
        );
        let d = e.decision.as_ref().expect("a decision");
        assert!(
            d.explanation.is_empty() && d.member_results.is_empty(),
            "brief"
        );
    }

    // One bad item fails the whole call, naming it; nothing changes.
    let mut bad = items.clone();
    bad[7].ballots[2].salience = Some(2.0);
    assert_status(
        client
            .evaluate_batch(EvaluateBatchRequest {
                evaluations: bad,
                brief: false,
            })
            .await,
        Code::InvalidArgument,
        &["evaluations[7].ballots[2].salience"],
    );
    let mut unknown = items.clone();
    unknown[3].policies = vec![policy("no-such-policy")];
    assert_status(
        client
            .evaluate_batch(EvaluateBatchRequest {
                evaluations: unknown,
                brief: false,
            })
            .await,
        Code::NotFound,
        &["evaluations[3]"],
    );
    assert_status(
        client.evaluate_batch(EvaluateBatchRequest::default()).await,
        Code::InvalidArgument,
        &["evaluations", "1 to 1000"],
    );
    let too_many = vec![items[0].clone(); 1001];
    assert_status(
        client
            .evaluate_batch(EvaluateBatchRequest {
                evaluations: too_many,
                brief: true,
            })
            .await,
        Code::InvalidArgument,
        &["1001 items"],
    );
    assert_eq!(count(&mut client).await, before, "a batch changes nothing");
}
