package lessons

import (
	"slices"
)

// Domain is one content domain of the KCNA exam: what authors tag a lesson
// or question with (ID), what the curriculum calls it, its share of the
// exam and the topics the curriculum lists under it.
type Domain struct {
	ID     string
	Name   string
	Weight int // percent of the exam's questions
	Topics []string
}

// Blueprint is the KCNA exam's blueprint, the one table every domain id,
// name and weight in kcna-lab comes from.
//
// Source: "Kubernetes and Cloud Native Associate (KCNA) Exam Curriculum",
// KCNA_Curriculum.pdf in github.com/cncf/curriculum, the revision committed
// on 24 November 2025 (commit 06702fec, "KCNA Exam Curriculum"), page 2,
// read with pdftotext. It has four domains; containerization is a topic of
// Kubernetes Fundamentals and observability one of Cloud Native
// Architecture. The first curriculum (2021: Kubernetes Fundamentals 46%,
// Container Orchestration 22%, Cloud Native Architecture 16%, Cloud Native
// Observability 8%, Cloud Native Application Delivery 8%) is now
// old-versions/KCNA_Curriculum.pdf there, and the repository's
// kcna/README.md still lists it. To follow a later revision, change this
// table and re-tag the questions against it.
var Blueprint = []Domain{
	{ID: "kubernetes-fundamentals", Name: "Kubernetes Fundamentals", Weight: 44,
		Topics: []string{"Kubernetes Core Concepts", "Administration", "Scheduling", "Containerization"}},
	{ID: "container-orchestration", Name: "Container Orchestration", Weight: 28,
		Topics: []string{"Networking", "Security", "Troubleshooting", "Storage"}},
	{ID: "cloud-native-application-delivery", Name: "Cloud Native Application Delivery", Weight: 16,
		Topics: []string{"Application Delivery", "Debugging"}},
	{ID: "cloud-native-architecture", Name: "Cloud Native Architecture", Weight: 12,
		Topics: []string{"Observability", "Cloud Native Ecosystem and Principles", "Cloud Native Community and Collaboration"}},
}

// BlueprintSource names the curriculum Blueprint follows, for people.
const BlueprintSource = "CNCF KCNA curriculum, November 2025 (github.com/cncf/curriculum, KCNA_Curriculum.pdf)"

// DomainName is the curriculum's name for a domain id, or "" if the id is
// not in the Blueprint.
func DomainName(id string) string {
	if i := domainIndex(id); i >= 0 {
		return Blueprint[i].Name
	}
	return ""
}

// domainIndex is the id's place in the Blueprint, or -1.
func domainIndex(id string) int {
	return slices.IndexFunc(Blueprint, func(d Domain) bool { return d.ID == id })
}
