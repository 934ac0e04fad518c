package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
)

// TestManifests decodes every manifest strictly, as the API server does
// with fieldValidation=Strict, and checks that they agree with each other
// and with kcna-lab serve's flags.
func TestManifests(t *testing.T) {
	files := readManifests(t)
	b, err := decode(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range check(b, files) {
		t.Error(problem)
	}
}

// TestManifestsCatchMistakes proves the checks above can fail: each case
// changes one thing in a copy of the manifests and expects the named error.
func TestManifestsCatchMistakes(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelled field", "10-statefulset.yaml", "containerPort:", "containerPrt:", `unknown field "spec.template.spec.containers[0].ports[0].containerPrt"`},
		{"field in the wrong case", "20-services.yaml", "targetPort: ssh", "targetport: ssh", `unknown field "spec.ports[0].targetport"`},
		{"field at the wrong level", "10-statefulset.yaml", "      enableServiceLinks: false", "      enableServiceLinks: false\n      replicas: 4", `unknown field "spec.template.spec.replicas"`},
		{"duplicate field", "30-networkpolicy.yaml", "  egress: []", "  egress: []\n  egress: []", `"egress" already set`},
		{"unknown kind", "30-networkpolicy.yaml", "kind: NetworkPolicy", "kind: NetworkPolicyy", `no kind "NetworkPolicyy"`},
		{"shards not replicas", "10-statefulset.yaml", "replicas: 4", "replicas: 3", "--shard auto/4 but replicas is 3"},
		{"state not on the claim", "10-statefulset.yaml", "mountPath: /var/lib/kcna-lab", "mountPath: /var/lib/elsewhere", "--state /var/lib/kcna-lab is not the mount path of a volumeClaimTemplate"},
		{"probe on another port", "10-statefulset.yaml", "            initialDelaySeconds: 10", "            initialDelaySeconds: 10\n            grpc: {port: 2223}", "livenessProbe"},
		{"service to another port", "20-services.yaml", "selector:\n    statefulset.kubernetes.io/pod-name: kcna-lab-2\n  ports:\n    - name: ssh\n      port: 2222\n      targetPort: ssh", "selector:\n    statefulset.kubernetes.io/pod-name: kcna-lab-2\n  ports:\n    - name: ssh\n      port: 2222\n      targetPort: 22", "Service kcna-lab-2 targets port 22"},
		{"class code inline", "10-statefulset.yaml", "              valueFrom:\n                secretKeyRef:\n                  name: kcna-lab-class\n                  key: class-code", `              value: "1234"`, "KCNA_LAB_CLASS_CODE does not come from the Secret"},
		{"not serve", "10-statefulset.yaml", "            - serve\n", "            - server\n", `runs "server", not serve`},
		{"memory below the quotas", "10-statefulset.yaml", "              memory: 26624Mi\n              cpu: \"51\"", "              memory: 20Gi\n              cpu: \"51\"", "memory limit 20Gi is below"},
		{"probe port not --listen", "10-statefulset.yaml", "              port: ssh\n            periodSeconds: 5", "              port: 2223\n            periodSeconds: 5", "readinessProbe probes port 2223, --listen is :2222"},
		{"--listen not the container port", "10-statefulset.yaml", `- ":2222"`, `- ":2200"`, "containerPort ssh is 2222, --listen is :2200"},
		{"image lacks the program", "../Dockerfile", "COPY deploy/kcna-lab-cgroupns /usr/local/bin/kcna-lab-cgroupns", "COPY deploy/kcna-lab-cgroupns /usr/bin/kcna-lab-cgroupns", "/usr/local/bin/kcna-lab-cgroupns, which deploy/Dockerfile does not install"},
		{"any node", "10-statefulset.yaml", "      nodeSelector:\n        kcna-lab/workshop: \"true\"\n", "", "no nodeSelector"},
		{"bad label key", "20-services.yaml", "kcna-lab/shard: \"1\"", "kcna-lab/shard/1: \"1\"", "label kcna-lab/shard/1"},
		{"another namespace", "30-networkpolicy.yaml", "namespace: kcna-lab", "namespace: default", `[NetworkPolicy kcna-lab] in namespace "default"`},
		{"shard missing", "20-services.yaml", "statefulset.kubernetes.io/pod-name: kcna-lab-3", "statefulset.kubernetes.io/pod-name: kcna-lab-0", "no Service selects shard kcna-lab-3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := readManifests(t)
			if !bytes.Contains(files[c.file], []byte(c.old)) {
				t.Fatalf("%s no longer contains %q: update this case", c.file, c.old)
			}
			files[c.file] = bytes.Replace(files[c.file], []byte(c.old), []byte(c.new), 1)
			var got []error
			b, err := decode(files)
			if err != nil {
				got = []error{err}
			} else {
				got = check(b, files)
			}
			msg := errors.Join(got...)
			t.Logf("got: %v", msg)
			if msg == nil || !strings.Contains(msg.Error(), c.want) {
				t.Fatalf("want an error containing %q, got: %v", c.want, msg)
			}
		})
	}
}

// manifestExts are the files checked: what `kubectl apply -f` reads, and
// the example Secret, which it deliberately does not.
var manifestExts = []string{".yaml", ".yaml.example"}

// readManifests returns this directory's manifests by file name.
func readManifests(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !slices.ContainsFunc(manifestExts, func(ext string) bool { return strings.HasSuffix(e.Name(), ext) }) {
			continue
		}
		data, err := os.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	if len(files) == 0 {
		t.Fatal("no manifests found")
	}
	// The image the StatefulSet runs, to check that it has the programs.
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	files[dockerfile] = data
	return files
}

// dockerfile builds the image; readManifests reads it with the manifests.
const dockerfile = "../Dockerfile"

// bundle is the decoded manifests.
type bundle struct {
	namespaces  []*corev1.Namespace
	statefulSet *appsv1.StatefulSet
	services    []*corev1.Service
	policies    []*networkingv1.NetworkPolicy
	secrets     []*corev1.Secret
	// namespaced lists every namespaced object, as "Kind name", by namespace.
	namespaced map[string][]string
	// labels are every object's and selector's labels, by "Kind name".
	labels map[string]map[string]string
	// kustomization is kustomization.yaml, which is no API object.
	kustomization struct {
		Resources []string `json:"resources"`
	}
}

// decode decodes every document of every file strictly into its k8s.io/api
// type: an unknown, misspelled, wrongly cased or repeated field, or an
// unknown kind, is an error naming the file and document.
func decode(files map[string][]byte) (*bundle, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	b := &bundle{namespaced: map[string][]string{}, labels: map[string]map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if name == dockerfile {
			continue
		}
		if name == "kustomization.yaml" {
			// Not strict: kustomize has more fields than this test reads.
			if err := yaml.Unmarshal(files[name], &b.kustomization); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		docs, err := splitDocuments(files[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i, doc := range docs {
			obj, _, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s, document %d: %w", name, i+1, err)
			}
			if err := b.add(obj); err != nil {
				return nil, fmt.Errorf("%s, document %d: %w", name, i+1, err)
			}
		}
	}
	return b, nil
}

// add files a decoded object by kind.
func (b *bundle) add(obj runtime.Object) error {
	var kind string
	switch o := obj.(type) {
	case *corev1.Namespace:
		b.namespaces = append(b.namespaces, o)
		b.labels["Namespace "+o.Name] = o.Labels
		return nil
	case *appsv1.StatefulSet:
		if b.statefulSet != nil {
			return fmt.Errorf("a second StatefulSet, %s: the checks expect one", o.Name)
		}
		b.statefulSet, kind = o, "StatefulSet"
	case *corev1.Service:
		b.services, kind = append(b.services, o), "Service"
	case *networkingv1.NetworkPolicy:
		b.policies, kind = append(b.policies, o), "NetworkPolicy"
	case *corev1.Secret:
		b.secrets, kind = append(b.secrets, o), "Secret"
	default:
		return fmt.Errorf("%T: no check knows this kind; add one", obj)
	}
	meta := obj.(metav1.Object)
	name := kind + " " + meta.GetName()
	b.namespaced[meta.GetNamespace()] = append(b.namespaced[meta.GetNamespace()], name)
	b.labels[name] = meta.GetLabels()
	return nil
}

// splitDocuments splits a YAML stream at its --- lines, as kubectl does,
// dropping documents that hold only comments.
func splitDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if len(probe) > 0 {
			docs = append(docs, doc)
		}
	}
}

// check returns every way the manifests disagree with each other or with
// kcna-lab serve.
func check(b *bundle, files map[string][]byte) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	sts := b.statefulSet
	if sts == nil {
		fail("no StatefulSet")
		return errs
	}
	spec := sts.Spec.Template.Spec
	if len(spec.Containers) == 0 {
		fail("StatefulSet %s has no containers", sts.Name)
		return errs
	}
	if len(b.namespaces) != 1 {
		fail("%d Namespaces, want 1", len(b.namespaces))
		return errs
	}
	ns := b.namespaces[0].Name
	for other, objs := range b.namespaced {
		if other != ns {
			fail("%v in namespace %q, not %q", objs, other, ns)
		}
	}
	if level := b.namespaces[0].Labels["pod-security.kubernetes.io/enforce"]; level != "privileged" {
		fail("Namespace %s enforces Pod Security level %q: the server's privileged pods need \"privileged\"", ns, level)
	}

	for i, c := range spec.Containers {
		s, err := parseServe(c)
		if err != nil {
			fail("container %d (%s): %v", i, c.Name, err)
			continue
		}
		errs = append(errs, checkContainer(b, c, s)...)
	}
	errs = append(errs, checkKustomization(b, files)...)
	errs = append(errs, checkImage(spec.Containers, files[dockerfile])...)
	errs = append(errs, checkLabels(b)...)
	return errs
}

// checkLabels checks the syntax of every label, selector and taint key and
// value, which decoding does not and the API server does.
func checkLabels(b *bundle) []error {
	sets := maps.Clone(b.labels)
	spec := b.statefulSet.Spec.Template.Spec
	sets["StatefulSet pod template"] = b.statefulSet.Spec.Template.Labels
	sets["StatefulSet nodeSelector"] = spec.NodeSelector
	for _, svc := range b.services {
		sets["Service "+svc.Name+" selector"] = svc.Spec.Selector
	}
	for _, tol := range spec.Tolerations {
		sets["StatefulSet toleration"] = map[string]string{tol.Key: tol.Value}
	}
	var errs []error
	for where, set := range sets {
		for k, v := range set {
			for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				errs = append(errs, fmt.Errorf("%s: label %s=%q: %s", where, k, v, msg))
			}
		}
	}
	return errs
}

// serve is the kcna-lab serve command line of a container.
type serve struct {
	flags  map[string]string
	listen int // the port of --listen
	shards int // COUNT of --shard auto/COUNT
}

// parseServe reads a container's command and args as kcna-lab serve's.
func parseServe(c corev1.Container) (serve, error) {
	argv := append(slices.Clone(c.Command), c.Args...)
	// The image's entrypoint wrapper runs its arguments.
	if len(argv) > 0 && filepath.Base(argv[0]) == "kcna-lab-cgroupns" {
		argv = argv[1:]
	}
	if len(argv) < 2 || filepath.Base(argv[0]) != "kcna-lab" {
		return serve{}, fmt.Errorf("runs %q, not kcna-lab", argv)
	}
	if argv[1] != "serve" {
		return serve{}, fmt.Errorf("runs %q, not serve", argv[1])
	}
	s := serve{flags: map[string]string{}}
	rest := argv[2:]
	for len(rest) > 0 {
		name, ok := strings.CutPrefix(rest[0], "--")
		if !ok {
			return s, fmt.Errorf("argument %q is not a flag", rest[0])
		}
		if k, v, ok := strings.Cut(name, "="); ok {
			s.flags[k], rest = v, rest[1:]
			continue
		}
		if len(rest) < 2 {
			return s, fmt.Errorf("flag --%s has no value", name)
		}
		s.flags[name], rest = rest[1], rest[2:]
	}
	for _, need := range []string{"listen", "state", "shard", "max-students", "student-memory", "student-cpus", "student-pids"} {
		if s.flags[need] == "" {
			return s, fmt.Errorf("no --%s", need)
		}
	}
	_, port, ok := strings.Cut(s.flags["listen"], ":")
	var err error
	if s.listen, err = strconv.Atoi(port); !ok || err != nil {
		return s, fmt.Errorf("--listen %s: want [HOST]:PORT", s.flags["listen"])
	}
	index, count, ok := strings.Cut(s.flags["shard"], "/")
	if s.shards, err = strconv.Atoi(count); !ok || err != nil || index != "auto" {
		return s, fmt.Errorf("--shard %s: want auto/COUNT, so that each replica takes its ordinal as its shard", s.flags["shard"])
	}
	return s, nil
}

// checkContainer checks one serve container against the rest.
func checkContainer(b *bundle, c corev1.Container, s serve) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	sts := b.statefulSet

	if replicas := ptrValue(sts.Spec.Replicas, 1); int(replicas) != s.shards {
		fail("--shard auto/%d but replicas is %d: every shard needs exactly one replica", s.shards, replicas)
	}

	// --state on a volumeClaimTemplate.
	var claims []string
	for _, tpl := range sts.Spec.VolumeClaimTemplates {
		claims = append(claims, tpl.Name)
	}
	onClaim := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return filepath.Clean(m.MountPath) == filepath.Clean(s.flags["state"]) && slices.Contains(claims, m.Name)
	})
	if !onClaim {
		fail("--state %s is not the mount path of a volumeClaimTemplate (%v): students' progress would die with the pod", s.flags["state"], claims)
	}

	// Ports: the container's, its probes', every Service's.
	if port := containerPort(c, intstr.FromString("ssh")); port != s.listen {
		fail("containerPort ssh is %d, --listen is :%d", port, s.listen)
	}
	for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		switch {
		case p == nil:
			fail("no %s", name)
		case p.TCPSocket == nil || p.Exec != nil || p.HTTPGet != nil || p.GRPC != nil:
			fail("%s: want only a tcpSocket probe (serve speaks SSH)", name)
		case containerPort(c, p.TCPSocket.Port) != s.listen:
			fail("%s probes port %s, --listen is :%d", name, p.TCPSocket.Port.String(), s.listen)
		}
	}
	selects := map[string]bool{}
	for _, svc := range b.services {
		for _, p := range svc.Spec.Ports {
			if got := containerPort(c, p.TargetPort); got != s.listen {
				fail("Service %s targets port %s (%d in the pod), --listen is :%d", svc.Name, p.TargetPort.String(), got, s.listen)
			}
		}
		if svc.Name == sts.Spec.ServiceName {
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				fail("Service %s, the StatefulSet's serviceName, is not headless", svc.Name)
			}
			continue
		}
		pod := svc.Spec.Selector["statefulset.kubernetes.io/pod-name"]
		if len(svc.Spec.Selector) != 1 || pod == "" {
			fail("Service %s selects %v, not one shard's pod by statefulset.kubernetes.io/pod-name", svc.Name, svc.Spec.Selector)
		}
		selects[pod] = true
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeNodePort {
			fail("Service %s is %s: students outside the cluster need LoadBalancer or NodePort", svc.Name, svc.Spec.Type)
		}
	}
	for i := range s.shards {
		if pod := fmt.Sprintf("%s-%d", sts.Name, i); !selects[pod] {
			fail("no Service selects shard %s: its students would have no address", pod)
		}
	}
	if !slices.ContainsFunc(b.services, func(svc *corev1.Service) bool { return svc.Name == sts.Spec.ServiceName }) {
		fail("no Service named %q, the StatefulSet's serviceName", sts.Spec.ServiceName)
	}

	errs = append(errs, checkClassCode(b, c)...)
	errs = append(errs, checkResources(c, s)...)
	errs = append(errs, checkPolicy(b, s)...)
	if sc := c.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
		fail("container %s is not privileged: README.md says what fails without it", c.Name)
	}
	errs = append(errs, checkNodes(sts.Spec.Template.Spec)...)
	return errs
}

// checkNodes wants the privileged pods held to workshop nodes: a
// nodeSelector, and a toleration for a taint of the same key, which keeps
// other pods off those nodes.
func checkNodes(spec corev1.PodSpec) []error {
	if len(spec.NodeSelector) == 0 {
		return []error{errors.New("no nodeSelector: the privileged pods could land on any node")}
	}
	for key := range spec.NodeSelector {
		tolerated := slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == key && tol.Effect == corev1.TaintEffectNoSchedule
		})
		if !tolerated {
			return []error{fmt.Errorf("nodeSelector %s has no NoSchedule toleration of the same key: the workshop nodes cannot be tainted against other pods", key)}
		}
	}
	return nil
}

// checkClassCode wants KCNA_LAB_CLASS_CODE from a key of a Secret that the
// example Secret has.
func checkClassCode(b *bundle, c corev1.Container) []error {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "KCNA_LAB_CLASS_CODE" })
	if i < 0 {
		return []error{errors.New("no KCNA_LAB_CLASS_CODE: anyone with an SSH key could claim a name")}
	}
	env := c.Env[i]
	if env.Value != "" || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
		return []error{errors.New("KCNA_LAB_CLASS_CODE does not come from the Secret: the code would sit in the manifest and the pod spec")}
	}
	ref := env.ValueFrom.SecretKeyRef
	for _, sec := range b.secrets {
		if _, ok := sec.StringData[ref.Key]; ok && sec.Name == ref.Name {
			return nil
		}
	}
	return []error{fmt.Errorf("KCNA_LAB_CLASS_CODE comes from Secret %s key %s, which the example Secret does not have", ref.Name, ref.Key)}
}

// checkResources wants limits that hold every student's quota at once, and
// memory requests equal to them.
func checkResources(c corev1.Container, s serve) []error {
	var errs []error
	students, err := strconv.Atoi(s.flags["max-students"])
	if err != nil {
		return []error{fmt.Errorf("--max-students %s: %w", s.flags["max-students"], err)}
	}
	memory, err := cgroup.ParseMemory(s.flags["student-memory"])
	if err != nil {
		return []error{err}
	}
	cpus, err := strconv.ParseFloat(s.flags["student-cpus"], 64)
	if err != nil {
		return []error{fmt.Errorf("--student-cpus %s: %w", s.flags["student-cpus"], err)}
	}
	lim, req := c.Resources.Limits, c.Resources.Requests
	wantMem := resource.NewQuantity(int64(students)*memory, resource.BinarySI)
	if m := lim.Memory(); m.Cmp(*wantMem) <= 0 {
		errs = append(errs, fmt.Errorf("memory limit %s is below or at %d students x %s = %s, which leaves the server nothing", m, students, s.flags["student-memory"], wantMem))
	}
	wantCPU := resource.NewMilliQuantity(int64(float64(students)*cpus*1000), resource.DecimalSI)
	if q := lim.Cpu(); q.Cmp(*wantCPU) < 0 {
		errs = append(errs, fmt.Errorf("cpu limit %s is below %d students x %s = %s", q, students, s.flags["student-cpus"], wantCPU))
	}
	if r, l := req.Memory(), lim.Memory(); r.Cmp(*l) != 0 {
		errs = append(errs, fmt.Errorf("memory request %s is not the limit %s: a shard could be evicted mid-class", r, l))
	}
	return errs
}

// checkPolicy wants a NetworkPolicy over the server's pods that lets in
// only --listen's port and lets nothing out.
func checkPolicy(b *bundle, s serve) []error {
	labels := b.statefulSet.Spec.Template.Labels
	for _, p := range b.policies {
		selected := len(p.Spec.PodSelector.MatchLabels) > 0
		for k, v := range p.Spec.PodSelector.MatchLabels {
			selected = selected && labels[k] == v
		}
		if !selected {
			continue
		}
		if !slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(p.Spec.Egress) != 0 {
			return []error{fmt.Errorf("NetworkPolicy %s lets the server's pods open connections", p.Name)}
		}
		for _, rule := range p.Spec.Ingress {
			if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || rule.Ports[0].Port.IntValue() != s.listen {
				return []error{fmt.Errorf("NetworkPolicy %s lets in more than port %d", p.Name, s.listen)}
			}
		}
		return nil
	}
	return []error{errors.New("no NetworkPolicy selects the server's pods")}
}

// checkKustomization wants kustomization.yaml to list every manifest that
// kubectl apply -f would read, and nothing else.
func checkKustomization(b *bundle, files map[string][]byte) []error {
	var want []string
	for name := range files {
		if strings.HasSuffix(name, ".yaml") && name != "kustomization.yaml" {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(b.kustomization.Resources))
	if !slices.Equal(got, want) {
		return []error{fmt.Errorf("kustomization.yaml lists %v, the manifests are %v", got, want)}
	}
	return nil
}

// checkImage wants the programs each container starts, the entrypoint
// wrapper and kcna-lab, to be files that deploy/Dockerfile copies in.
func checkImage(containers []corev1.Container, dockerfile []byte) []error {
	installed := map[string]bool{}
	for line := range strings.Lines(string(dockerfile)) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" {
			continue
		}
		var srcs []string
		for _, a := range f[1 : len(f)-1] {
			if !strings.HasPrefix(a, "--") {
				srcs = append(srcs, a)
			}
		}
		dst := f[len(f)-1]
		if !strings.HasPrefix(dst, "/") {
			continue // into the build stage's WORKDIR
		}
		if !strings.HasSuffix(dst, "/") {
			installed[dst] = true
			continue
		}
		for _, src := range srcs {
			installed[dst+filepath.Base(src)] = true
		}
	}
	var errs []error
	for _, c := range containers {
		argv := append(slices.Clone(c.Command), c.Args...)
		for _, prog := range argv[:min(2, len(argv))] {
			if !installed[prog] {
				errs = append(errs, fmt.Errorf("container %s runs %s, which deploy/Dockerfile does not install (it installs %v)", c.Name, prog, slices.Sorted(maps.Keys(installed))))
			}
		}
	}
	return errs
}

// containerPort resolves a port by number or by the container's port name;
// 0 when the name is unknown.
func containerPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

func ptrValue[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
