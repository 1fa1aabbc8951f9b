package trembling

import "strings"

// clientSummary returns a short description of the browser and system a
// User-Agent names, such as "Firefox on Linux", for a user's list of
// their sessions; "Unknown browser" when it names none it knows. It is a
// hint for the user, not a fact: any client may send any User-Agent.
func clientSummary(ua string) string {
	browser := firstMatch(ua, []match{
		// Order matters: Edge and Opera say Chrome too, Chrome says
		// Safari, and a headless Chrome says HeadlessChrome.
		{"Edg/", "Edge"},
		{"EdgA/", "Edge"},
		{"OPR/", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"},
		{"FxiOS/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"},
		{"CriOS/", "Chrome"},
		{"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"},
		{"Safari/", "Safari"},
		{"curl/", "curl"},
		{"Wget/", "Wget"},
		{"Go-http-client/", "Go client"},
		{"python-requests/", "Python client"},
	})
	system := firstMatch(ua, []match{
		{"Android", "Android"},
		{"iPhone", "iOS"},
		{"iPad", "iPadOS"},
		{"CrOS", "ChromeOS"},
		{"Windows", "Windows"},
		{"Mac OS X", "macOS"},
		{"Macintosh", "macOS"},
		{"Linux", "Linux"},
		{"FreeBSD", "FreeBSD"},
	})
	switch {
	case browser == "" && system == "":
		return "Unknown browser"
	case browser == "":
		return "A browser on " + system
	case system == "":
		return browser
	}
	return browser + " on " + system
}

// match is a substring of a User-Agent and the name it stands for.
type match struct{ sub, name string }

// firstMatch returns the name of the first of ms whose substring ua
// holds, or "".
func firstMatch(ua string, ms []match) string {
	for _, m := range ms {
		if strings.Contains(ua, m.sub) {
			return m.name
		}
	}
	return ""
}
