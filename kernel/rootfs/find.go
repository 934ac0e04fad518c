package rootfs

// StaticBusybox is the host's static busybox that Default would use, or ""
// when there is none (kcna-lab doctor reports it).
func StaticBusybox() string {
	p, err := findStaticBusybox()
	if err != nil {
		return ""
	}
	return p
}
