package mastodon

// Facts about how the streaming server authenticates a websocket (streaming/index.js:
// accountFromRequest, the upgrade handler and checkScopes; docs.joinmastodon.org
// methods/streaming, "Establishing a WebSocket connection").

// StreamingBearerPrefix is how the streaming server takes a token from the Authorization
// header, in every release 1.6 … 4.7: it strips the regexp /^Bearer / and looks the rest up. The
// match is case-sensitive, so "bearer TOKEN" reaches the database as "bearer TOKEN" and
// fails. The header is the documented, preferred way (the access_token query parameter
// also works in every release but lands in access logs; Sec-WebSocket-Protocol works
// from 2.x for browsers).
const StreamingBearerPrefix = "Bearer "

// StreamingStreamNeedingRead is the stream a token must be allowed to read: "user"
// (home timeline) needs the read or read:statuses scope in every release that checks
// scopes, while the public streams need no scope at all (PUBLIC_CHANNELS, 3.0+), so
// subscribing to "user" is what proves a token's scope.
const StreamingStreamNeedingRead = "user"

// StreamingUserTokenOnly reports whether the streaming server refuses app tokens
// (client_credentials, no user) with 401 (4.2.0+, PR #23989: the token query joins
// users).
func (r Release) StreamingUserTokenOnly() bool { return r.AtLeast(4, 2, 0) }

// StreamingSubscribeMessages reports whether one websocket can subscribe with a JSON
// message {"type":"subscribe","stream":"…"} (multiplexing, 3.3.0+). Subscription errors
// come back as a text message {"error":"…","status":401} on the open socket. Before 3.3
// the stream is only named by ?stream= in the upgrade URL and a token without the
// scope the stream needs gets 401 at the upgrade.
func (r Release) StreamingSubscribeMessages() bool { return r.AtLeast(3, 3, 0) }
