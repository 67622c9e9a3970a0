//! accord scenarios: a file that puts proposals to the alliance with every member's stance and
//! compares what each policy makes of them (being written).
#![forbid(unsafe_code)]
