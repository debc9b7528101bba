// herald: webhooks out (signed, retried, durable) and in (verified, deduplicated).
// Links herald::webhook (OpenSSL, SQLite).
#pragma once
#include <herald/webhook/delivery.hpp>
#include <herald/webhook/outbox.hpp>
#include <herald/webhook/policy.hpp>
#include <herald/webhook/resolver.hpp>
#include <herald/webhook/retry.hpp>
#include <herald/webhook/sender.hpp>
#include <herald/webhook/signature.hpp>
#include <herald/webhook/ssrf.hpp>
#include <herald/webhook/verifier.hpp>
