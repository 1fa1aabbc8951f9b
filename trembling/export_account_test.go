package trembling

// ClientSummary is clientSummary, for the tests of user_sessions.
var ClientSummary = clientSummary
