package lessons

// Domains are the KCNA exam's content domains a lesson or question can be
// tagged with. The ids are what authors write in front matter.
var domainNames = map[string]string{
	"kubernetes-fundamentals":           "Kubernetes Fundamentals",
	"container-orchestration":           "Container Orchestration",
	"cloud-native-architecture":         "Cloud Native Architecture",
	"cloud-native-observability":        "Cloud Native Observability",
	"cloud-native-application-delivery": "Cloud Native Application Delivery",
}

// DomainName is the exam's name for a domain id, or "" if the id is unknown.
func DomainName(id string) string { return domainNames[id] }
